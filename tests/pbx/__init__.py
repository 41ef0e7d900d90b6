"""Tests of pbx/: AMI parser and client, call tracker, store, asterisk-config/."""
