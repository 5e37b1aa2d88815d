import LockstepBLAS
import LockstepCore
import LockstepCPU
import LockstepGPU

/// The backends this build knows, by name, and why an unavailable one cannot run here.
public enum BackendRegistry {
    /// Names accepted by `make`, in the order `lockstep backends` lists them.
    public static let names = ["cpu", "reference", "blas", "opencl", "cuda"]

    /// The backend used when none is named.
    public static let defaultName = "cpu"

    /// The most worker threads `make` takes (`CPUBackend.maxThreads`).
    public static let maxThreads = CPUBackend.maxThreads

    /// Creates the backend called `name` with `threads` (1 … `maxThreads`) worker
    /// threads (backends that are single-threaded ignore it). Ops a backend does not accelerate run on `cpu`.
    /// - Throws: `BackendError` for an unknown name, a thread count out of range, or a backend
    ///   that cannot run here (the message says what is missing).
    public static func make(_ name: String, threads: Int = 1) throws(BackendError) -> any Backend {
        guard (1 ... maxThreads).contains(threads) else {
            throw BackendError("threads must be between 1 and \(maxThreads), got \(threads)")
        }
        // The accelerators run the light ops (and small products) on the cpu backend.
        func cpu() throws(BackendError) -> CPUBackend {
            do { return try CPUBackend.make(threads: threads) } catch { throw BackendError("cpu: \(error)") }
        }
        switch name {
        case "cpu": return try cpu()
        case "reference": return ReferenceBackend()
        case "blas": return BLASBackend(threads: threads, fallback: try cpu())
        case "opencl": return try OpenCLBackend(fallback: try cpu())
        case "cuda": return try CUDABackend(fallback: try cpu())
        default: throw BackendError("unknown backend '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }

    /// One line per known backend: whether it can run here, and what it runs on or why not.
    public static func availability() -> [(name: String, available: Bool, detail: String)] {
        names.map { name in
            do {
                let backend = try make(name)
                switch backend {
                case let b as OpenCLBackend: return (name, true, "device \(b.device.name)")
                case let b as CUDABackend: return (name, true, "device \(b.deviceDescription)")
                case let b as CPUBackend: return (name, true, "host CPU, \(b.isa) kernels")
                default: return (name, true, "host CPU")
                }
            } catch {
                return (name, false, "\(error)")
            }
        }
    }
}
