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
    /// Every weight matrix of the model (seven distinct layer matrices reused 30 times would sit
    /// in cache; this makes all 210, plus the output head).
    private func modelMatrices(_ rng: inout SplitMix64) -> [WeightMatrix] {
        let layer: [(Int, Int)] = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]
        var mats: [WeightMatrix] = []
        for _ in 0..<30 {
            for (n, k) in layer { mats.append(makeWeights(.q4_1, rows: n, columns: k, scales: .typical, rng: &rng)) }
        }
        mats.append(makeWeights(.q8_0, rows: 49152, columns: 576, scales: .typical, rng: &rng))
        return mats
    }

    /// The same products over a batch of `LOCKSTEP_CPU_BENCH_TOKENS` (default 128) tokens (prefill,
    /// replay): prints token-products/s and multiply-adds per second on the fastest path.
    func testModelSizedBatchedThroughput() throws {
        guard ProcessInfo.processInfo.environment["LOCKSTEP_CPU_BENCH"] == "1" else {
            throw XCTSkip("set LOCKSTEP_CPU_BENCH=1 to run the throughput benchmark")
        }
        let tokens = Int(ProcessInfo.processInfo.environment["LOCKSTEP_CPU_BENCH_TOKENS"] ?? "") ?? 128
        var rng = SplitMix64(seed: 0xBE_4C12)
        let mats = modelMatrices(&rng)
        let macs = mats.reduce(0) { $0 + $1.rows * $1.columns } * tokens
        let x576 = ActivationKind.floats(.normal).make(rows: tokens, columns: 576, rng: &rng)
        let x1536 = ActivationKind.floats(.normal).make(rows: tokens, columns: 1536, rng: &rng)
        var y = [Float](repeating: 0, count: 49152 * tokens)
        for threads in [1, 2] {
            let backend = CPUBackend(threads: threads)
            var best = Double.infinity, bestCPU = Double.infinity
            for _ in 0..<4 {
                let t0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds()
                for w in mats { y.withUnsafeMutableBufferPointer { backend.matmul(w, w.columns == 576 ? x576 : x1536, into: $0) } }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                bestCPU = min(bestCPU, processCPUSeconds() - c0)
            }
            // CPU time (all threads) is what a busy machine disturbs least; wall time is what a user sees.
            print(String(format: "cpu/%@/%dt, %d tokens: wall %.1f ms = %.1f tokens/s, %.1f G multiply-adds/s; CPU %.1f ms = %.1f G multiply-adds/s per core",
                         backend.isa.rawValue, threads, tokens, best * 1e3, Double(tokens) / best, Double(macs) / best / 1e9,
                         bestCPU * 1e3, Double(macs) / bestCPU / 1e9))
        }
    }

    func testModelSizedMatmulThroughput() throws {
        guard ProcessInfo.processInfo.environment["LOCKSTEP_CPU_BENCH"] == "1" else {
            throw XCTSkip("set LOCKSTEP_CPU_BENCH=1 to run the throughput benchmark")
        }
        var rng = SplitMix64(seed: 0xBE_4C11)
        let mats = modelMatrices(&rng)
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

/// CPU seconds this process has used (user + system, all threads).
private func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
