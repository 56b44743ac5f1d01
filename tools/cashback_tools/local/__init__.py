"""Local runner: template.yaml's table and API served on localhost, no Docker."""
