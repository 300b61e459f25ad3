"""Images as the official code reads, resizes and scores them."""
