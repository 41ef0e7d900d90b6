"""Recordings and transcripts (SPEC R4): capture registry, Vosk transcription workers, order
drafts from speech, retention, live transcript. See docs/recordings.md."""
