import CLockstepKernels
import LockstepCore

/// An instruction-set path of the `cpu` backend. Every path computes the same bits; they differ
/// only in speed.
public enum CPUISA: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Portable C.
    case scalar
    /// x86-64 AVX2.
    case avx2
    /// x86-64 AVX-512 (F, BW, VL, DQ).
    case avx512
    /// AArch64 Advanced SIMD.
    case neon

    var code: Int32 {
        switch self {
        case .scalar: return Int32(LK_ISA_SCALAR.rawValue)
        case .avx2: return Int32(LK_ISA_AVX2.rawValue)
        case .avx512: return Int32(LK_ISA_AVX512.rawValue)
        case .neon: return Int32(LK_ISA_NEON.rawValue)
        }
    }

    /// Whether this machine can run the path.
    public var isAvailable: Bool { lk_isa_supported(code) != 0 }

    /// The fastest path this machine can run.
    public static var best: CPUISA {
        let code = lk_isa_best()
        return allCases.first { $0.code == code } ?? .scalar
    }

    /// The path named by `$LOCKSTEP_CPU_ISA` (`scalar`, `avx2`, `avx512`, `neon`), if set.
    /// - Throws: `CPUBackendError` for an unknown name or a path this machine cannot run.
    public static func fromEnvironment() throws(CPUBackendError) -> CPUISA? {
        guard let raw = getenv("LOCKSTEP_CPU_ISA") else { return nil }
        let name = String(cString: raw)
        if name.isEmpty { return nil }
        guard let isa = CPUISA(rawValue: name) else {
            throw CPUBackendError("LOCKSTEP_CPU_ISA=\(name): unknown instruction set (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard isa.isAvailable else {
            throw CPUBackendError("LOCKSTEP_CPU_ISA=\(name): this machine cannot run it (available: \(CPUBackend.availableISAs.map(\.rawValue).joined(separator: ", ")))")
        }
        return isa
    }

    public var description: String { rawValue }
}

/// Why a `CPUBackend` cannot be created (the protocol's error type, so that a backend registry
/// can pass it on unchanged).
public typealias CPUBackendError = BackendError

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
