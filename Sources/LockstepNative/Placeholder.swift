// LockstepNative: filled in by the first commits.
