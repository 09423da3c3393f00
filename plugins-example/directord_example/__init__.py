"""directord-plugins-example: an ECHO verb and a job-log hook for directord."""
