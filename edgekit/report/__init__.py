"""Reports: JSON for CI (versioned schema in edgekit/schema/), Markdown for people."""
