"""Analysis and evaluation (第十七条 to 第二十三条, SPEC R7): the monthly and annual evaluation of
the member units (成员单位考核) and the call-centre statistics per queue and hour.

Reads the work-order store (``workflow``), the call store (``pbx.calls``) and the agent state
log with SQL; writes only its own table (the evaluation weights). Nothing imports this package
except the wiring module ``hotline/features/analytics.py``.
"""
