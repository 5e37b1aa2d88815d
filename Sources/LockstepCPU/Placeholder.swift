// The cpu backend: filled in by the cpu backend work.
