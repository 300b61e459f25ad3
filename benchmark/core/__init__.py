"""Facts and plumbing every other package uses: errors, the challenge years, files, the host process."""
