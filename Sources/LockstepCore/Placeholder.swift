// LockstepCore: filled in by the first commits.
