// LockstepTokenizer: filled in by the first commits.
