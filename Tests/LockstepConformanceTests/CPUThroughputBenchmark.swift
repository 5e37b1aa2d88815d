import Foundation
import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// Matrix-product throughput on the real model's shapes (random weights with model-like scales):
/// one "product" = every weight matrix of SmolLM2-135M (30 layers × q, k, v, o, gate, up, down in
/// Q4_1, plus the 49152 × 576 Q8_0 output head) times one activation vector — the matrix work of
/// one decoded token. Prints products/s per instruction set and thread count; asserts nothing
/// about time. Opt-in: `LOCKSTEP_CPU_BENCH=1 swift test --filter CPUThroughputBenchmark`.
final class CPUThroughputBenchmark: XCTestCase {
    func testModelSizedMatmulThroughput() throws {
        guard ProcessInfo.processInfo.environment["LOCKSTEP_CPU_BENCH"] == "1" else {
            throw XCTSkip("set LOCKSTEP_CPU_BENCH=1 to run the throughput benchmark")
        }
        var rng = SplitMix64(seed: 0xBE_4C11)
        let layer: [(Int, Int)] = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]
        // Seven distinct layer matrices reused 30 times would sit in cache; make all 210.
        var mats: [WeightMatrix] = []
        for _ in 0..<30 {
            for (n, k) in layer { mats.append(makeWeights(.q4_1, rows: n, columns: k, scales: .typical, rng: &rng)) }
        }
        mats.append(makeWeights(.q8_0, rows: 49152, columns: 576, scales: .typical, rng: &rng))
        let bytes = mats.reduce(0) { $0 + $1.bytes.count }
        let x576 = ActivationKind.floats(.normal).make(rows: 1, columns: 576, rng: &rng)
        let x1536 = ActivationKind.floats(.normal).make(rows: 1, columns: 1536, rng: &rng)
        var y = [Float](repeating: 0, count: 49152)
        print("model-sized product: \(mats.count) matrices, \(bytes / 1_000_000) MB")
        for isa in CPUBackend.availableISAs.reversed() {
            for threads in [1, 2] {
                let backend = CPUBackend(threads: threads, isa: isa)
                func pass() {
                    for w in mats {
                        y.withUnsafeMutableBufferPointer { backend.matmul(w, w.columns == 576 ? x576 : x1536, into: $0) }
                    }
                }
                pass()
                CPUPathCounters.reset()
                var best = Double.infinity
                for _ in 0..<(isa == .scalar ? 2 : 8) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    pass()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                }
                let c = CPUPathCounters.read()
                print(String(format: "cpu/%@/%dt: %.2f ms per product = %.1f products/s (%.1f GB/s); exact fallbacks %llu of %llu outputs",
                             isa.rawValue, threads, best * 1e3, 1 / best, Double(bytes) / best / 1e9, c.matmulExactFallbacks, c.matmulOutputs))
            }
        }
    }
}
