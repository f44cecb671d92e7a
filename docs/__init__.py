"""The guides in Markdown, shipped in the wheel as package data: `mwsync docs TOPIC` prints one."""
