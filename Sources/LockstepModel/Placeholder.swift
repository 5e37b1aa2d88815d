// LockstepModel: filled in by the first commits.
