"""Tests of agents/: queue control, states, call control, wallboard, WebSocket."""
