import Foundation
import LockstepTestSupport
import XCTest
import Lockstep
@testable import LockstepVectors

/// The committed vectors and the backends to run them on.
enum VectorsFixture {
    /// `Vectors/` of this checkout.
    static let directory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vectors").path

    static var requireModel: Bool { ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_MODEL"] == "1" }
    static var requireOpenCL: Bool { ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_OPENCL"] == "1" }

    /// Every registered backend that can run here (2 threads); a missing OpenCL device fails
    /// when `LOCKSTEP_REQUIRE_OPENCL=1`.
    static func availableBackends() -> [any Backend] {
        var out: [any Backend] = []
        for name in BackendRegistry.names {
            do { out.append(try BackendRegistry.make(name, threads: 2)) } catch {
                if name == "opencl" && requireOpenCL { XCTFail("LOCKSTEP_REQUIRE_OPENCL=1 but: \(error)") }
            }
        }
        return out
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> String {
        try freshTemporaryDirectory("vectors").path
    }

    /// Copies the committed files `paths` (under `Vectors/`) into a new temporary directory.
    static func copy(_ paths: [String], edit: ((String, inout String) -> Void)? = nil) throws -> String {
        let dir = try temporaryDirectory()
        for p in paths {
            var text = try String(contentsOfFile: directory + "/" + p, encoding: .utf8)
            edit?(p, &text)
            let url = URL(fileURLWithPath: dir + "/" + p)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return dir
    }
}

/// A backend that computes every op like the reference except one, which it gets wrong on
/// purpose: the runner must notice and name exactly the vectors of that op.
final class PerturbedBackend: DelegatingBackend, @unchecked Sendable {
    enum Perturbation {
        /// Flips the last bit of the first output of every product with weights of this format.
        case matmulLastBit(WeightFormat)
        /// Quantises with ties rounded away from zero instead of to even.
        case quantizeTiesAway
    }

    let perturbation: Perturbation
    let fallback: any Backend = ReferenceBackend()

    init(_ perturbation: Perturbation) { self.perturbation = perturbation }

    var name: String { "perturbed" }

    func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        fallback.matmul(w, x, into: y)
        if case .matmulLastBit(let format) = perturbation, format == w.format {
            y[0] = Float(bitPattern: y[0].bitPattern ^ 1)
        }
    }

    func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> QuantizedActivations {
        guard case .quantizeTiesAway = perturbation else { return fallback.quantize(x, rows: rows, columns: columns) }
        var q = QuantizedActivations(rows: rows, columns: columns)
        for r in 0..<rows {
            for b in 0..<q.blocksPerRow {
                let start = r * columns + b * 32, n = min(32, columns - b * 32), block = r * q.blocksPerRow + b
                var m: Float = 0
                for j in 0..<n where x[start + j].isFinite { m = max(m, x[start + j].magnitude) }
                let e = ActivationQuantizer.blockExponent(maxMagnitude: m)
                var sum: Int32 = 0
                for j in 0..<n {
                    let v = x[start + j]
                    var t: Double = 0
                    if v.isInfinite { t = v < 0 ? -32767 : 32767 } else if !v.isNaN {
                        t = max(-32767, min(32767, (Double(v) * Double(sign: .plus, exponent: Int(-e), significand: 1)).rounded(.toNearestOrAwayFromZero)))
                    }
                    q.values[block * 32 + j] = Int16(t)
                    sum += Int32(t)
                }
                q.exponents[block] = e
                q.sums[block] = sum
            }
        }
        return q
    }
}
