"""Agents and the console back end: queue login / pause, agent states, call control
(transfers, three-way calls, supervisor listen / whisper / barge), the live wallboard and the
``/api/ws`` WebSocket (screen-pop). See docs/agents.md and docs/websocket.md."""
