// The umbrella module: `import Lockstep` gives an app the whole public API.
@_exported import LockstepCore
@_exported import LockstepGGUF
@_exported import LockstepTokenizer
@_exported import LockstepModel
@_exported import LockstepNative
@_exported import LockstepTrace
@_exported import LockstepVerify
@_exported import LockstepVectors
