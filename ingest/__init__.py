"""Sources of comments and viewer counts: files, stdin, the simulator, the live platforms."""
