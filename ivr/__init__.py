"""The 12345 IVR: flows on FastAGI (`ivr.app.agi_routes`), callback and survey dialling jobs
(`ivr.app.job_handlers`), prompts (`ivr.prompts`). See docs/ivr.md."""
