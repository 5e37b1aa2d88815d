/// The backends this build knows, by name, and why an unavailable one cannot run here.
public enum BackendRegistry {
    /// Names accepted by `make`, in the order `lockstep backends` lists them.
    public static let names = ["reference"]

    /// Creates the backend called `name` with `threads` worker threads (backends that are
    /// single-threaded ignore it).
    /// - Throws: `BackendError` for an unknown name or a backend that cannot run here.
    public static func make(_ name: String, threads: Int = 1) throws(BackendError) -> any Backend {
        guard threads >= 1 else { throw BackendError("threads must be at least 1, got \(threads)") }
        switch name {
        case "reference": return ReferenceBackend()
        default: throw BackendError("unknown backend '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }
}

/// Why a backend cannot be created.
public struct BackendError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
