import Foundation
import XCTest
import Lockstep

/// The real model (skipped when absent, a failure when `LOCKSTEP_REQUIRE_MODEL=1`): a short
/// greedy trace replays, spot-checks and audits; prints the cost ratios against generation.
final class RealModelVerifyTests: XCTestCase {
    func testRealModelReplayAndSpotCheck() throws {
        let path = ModelStore.realModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_MODEL"] == "1" { XCTFail("real model missing at \(path)") }
            throw XCTSkip("real model not found at \(path)")
        }
        let model = try LlamaModel(path: path), digest = model.digest()
        let backend = try BackendRegistry.make(BackendRegistry.defaultName, threads: 2)
        let tracePath = Fixture.dir.appendingPathComponent("real.trace").path
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: true, parseSpecial: false)
        let started = monotonicNow()
        _ = try TracedGeneration.run(model: model, backend: backend, prompt: prompt, maxTokens: 16, sampler: .greedy, key: Fixture.key,
                                     modelDigest: digest, tracePath: tracePath, options: TraceOptions(storeStates: true))
        let generation = monotonicNow() - started
        let t = try TraceReader.read(path: tracePath, keepStates: true)
        let r = try Replay.verify(trace: t, model: model, modelDigest: digest, backend: backend)
        XCTAssertTrue(r.verdict.holds, r.verdict.reason)
        // The spot-check's whole work, as the command line does it: index the file, open, recompute.
        let spotStarted = monotonicNow()
        let s = try SpotCheck.verify(trace: try TraceIndex(path: tracePath), model: model, modelDigest: digest, backend: backend, samples: 16, seed: nil)
        let spot = monotonicNow() - spotStarted
        XCTAssertTrue(s.verdict.holds, s.verdict.reason)
        print(String(format: "real model: generation %.2f s, replay %.2f s (%.1f%%), spot-check K=16 %.3f s (%.2f%%; recomputation %.3f s)",
                     generation, r.computeSeconds, 100 * r.computeSeconds / generation, spot, 100 * spot / generation, s.computeSeconds))
        for count in [8, nil] as [Int?] {
            let a = try Audit.verify(trace: t, model: model, modelDigest: digest, backend: backend, options: AuditOptions(products: count))
            XCTAssertTrue(a.verdict.holds, a.verdict.reason)
            XCTAssertTrue(a.products.allSatisfy { $0.tokensRecomputed == 0 }, "every real-model row is within the field's range")
            print(String(format: "real model audit of %ld of %ld products: backend %.3f s, certificates %.3f s, verifier %.3f s, %ld field operations vs %ld direct",
                         a.products.count, a.matmulCalls, a.auditedProductSeconds, a.certificateSeconds, a.verifierSeconds, a.fieldOperations, a.directOperations))
        }
    }
}
