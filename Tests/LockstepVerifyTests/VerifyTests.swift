import Foundation
import XCTest
import LockstepTestSupport
import Lockstep

final class ReplayTests: XCTestCase {
    func testHonestTraceVerifiesWithEveryAvailableBackend() throws {
        let (_, t) = try Fixture.trace("honest.trace")
        var ran: [String] = []
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            ran.append(name)
            let r = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend)
            XCTAssertTrue(r.verdict.holds, "\(name): \(r.verdict.reason)")
            let s = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend, samples: 16, seed: nil)
            XCTAssertTrue(s.verdict.holds, "\(name): \(s.verdict.reason)")
        }
        XCTAssertTrue(ran.contains("reference"))
    }

    func testSampledTraceVerifies() throws {
        let (_, t) = try Fixture.trace("sampled.trace", maxTokens: 6, sampler: SamplerSettings(temperature: 0.9, seed: 42))
        XCTAssertTrue(try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend()).verdict.holds)
    }

    /// Faults at prompt positions, the last prompt position, output positions, every layer and an embedding.
    static let faults: [FaultInjection] = [
        FaultInjection(position: 0, layer: 0), FaultInjection(position: 1, layer: 1), FaultInjection(position: 2, layer: 0),
        FaultInjection(position: 3, layer: 1), FaultInjection(position: 4, layer: nil), FaultInjection(position: 5, layer: 1, valueIndex: 17, bit: 3),
    ]

    func testReplayReportsExactlyTheFaultedStep() throws {
        for (k, fault) in Self.faults.enumerated() {
            let (_, t) = try Fixture.trace("fault-\(k).trace", fault: fault)
            let schedule = t.header.schedule
            let expected = (0 ..< t.leaves.count).first { schedule.step(at: $0) == fault.step }!
            let r = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            XCTAssertFalse(r.verdict.holds)
            XCTAssertEqual(r.verdict.divergence?.index, expected, "\(fault)")
            XCTAssertEqual(r.verdict.divergence?.step, fault.step)
        }
    }

    func testDisputeNamesHonestTraceAndStepAndProofChecks() throws {
        let (_, honest) = try Fixture.trace("honest-d.trace")
        for (k, fault) in Self.faults.enumerated() {
            let (_, bad) = try Fixture.trace("fault-d-\(k).trace", fault: fault)
            let n = min(honest.leaves.count, bad.leaves.count)
            for (a, b, expectWinner) in [(honest, bad, DisputeWinner.first), (bad, honest, DisputeWinner.second)] {
                let r = try Dispute.run(a: a, b: b, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
                XCTAssertEqual(r.winner, expectWinner)
                XCTAssertEqual(r.verdict.holds, expectWinner == .first)
                XCTAssertEqual(r.verdict.divergence?.step, fault.step)
                XCTAssertLessThanOrEqual(r.rounds, Fixture.ceilLog2(n) + 1)
                let proof = try XCTUnwrap(r.proof)
                let parsed = try FraudProof.parse(proof.bytes).get()
                XCTAssertEqual(parsed, proof)
                XCTAssertTrue(try parsed.check(model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend()).holds)
            }
        }
        let same = try Dispute.run(a: honest, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertTrue(same.verdict.holds); XCTAssertNil(same.proof)
    }

    /// Every single-bit change of a fraud proof is rejected (exhaustive when the proof is at most
    /// 6,000 bytes, else a seeded sample of 4,000 bits).
    func testEveryBitFlipOfAFraudProofIsRejected() throws {
        let (_, honest) = try Fixture.trace("honest-p.trace", maxTokens: 2, prompt: [3, 4])
        let (_, bad) = try Fixture.trace("bad-p.trace", maxTokens: 2, prompt: [3, 4], fault: FaultInjection(position: 1, layer: 1))
        let r = try Dispute.run(a: bad, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        let bytes = try XCTUnwrap(r.proof).bytes
        let backend = ReferenceBackend()
        XCTAssertTrue(try FraudProof.parse(bytes).get().check(model: Fixture.model, modelDigest: Fixture.digest, backend: backend).holds)
        var bits = Array(0 ..< bytes.count * 8)
        if bytes.count > 6000 {
            var rng = SystemRandomNumberGenerator()
            _ = rng
            var g = SplitMix64(seed: 2024)
            bits = (0 ..< 4000).map { _ in Int.random(in: 0 ..< bytes.count * 8, using: &g) }
        }
        var accepted: [Int] = []
        for bit in bits {
            var b = bytes
            b[bit / 8] ^= 1 << UInt8(bit % 8)
            switch FraudProof.parse(b) {
            case .failure: continue
            case let .success(p):
                do {
                    if try p.check(model: Fixture.model, modelDigest: Fixture.digest, backend: backend).holds { accepted.append(bit) }
                } catch { continue }  // another model: unusable, not accepted
            }
        }
        XCTAssertEqual(accepted, [], "bit flips accepted: \(accepted.prefix(10))")
        print("fraud proof: \(bytes.count) bytes, \(bits.count) bit flips, all rejected")
    }
}

final class SpotCheckTests: XCTestCase {
    /// With the faulted step the only one that does not follow from its opened inputs (f = 1/N),
    /// K independent samples detect the fault with probability P = 1 − (1 − f)^K. Over S seeds
    /// the detection count is Binomial(S, P); the test accepts |count − S·P| ≤ 5σ (a false alarm
    /// has probability below 10⁻⁶).
    func testDetectionRateMatchesPrediction() throws {
        let fault = FaultInjection(position: 2, layer: 1)
        let (_, t) = try Fixture.trace("spot.trace", maxTokens: 3, fault: fault)
        let n = t.leaves.count, k = 4, seeds = 300
        let f = 1.0 / Double(n)
        let p = 1 - pow(1 - f, Double(k))
        var detected = 0
        for seed in 0 ..< seeds {
            let r = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: k, seed: UInt64(seed))
            let faultIndex = (0 ..< n).first { t.header.schedule.step(at: $0) == fault.step }!
            // Exactly the runs whose samples include the faulted step detect it.
            XCTAssertEqual(!r.verdict.holds, r.samples.contains(faultIndex))
            if !r.verdict.holds {
                detected += 1
                XCTAssertEqual(r.verdict.divergence?.step, fault.step)
            }
        }
        let mean = Double(seeds) * p, sigma = (Double(seeds) * p * (1 - p)).squareRoot()
        print("spot-check: N = \(n), K = \(k), predicted \(mean) ± \(sigma), detected \(detected) of \(seeds)")
        XCTAssertLessThanOrEqual(abs(Double(detected) - mean), 5 * sigma)
    }

    func testSamplingIsDeterministicAndInRange() {
        let root = SHA256Hasher.hash([1, 2, 3])
        let a = SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: nil)
        XCTAssertEqual(a, SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: nil))
        XCTAssertNotEqual(a, SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: 1))
        XCTAssertTrue(a.allSatisfy { (0 ..< 37).contains($0) })
        XCTAssertEqual(Set(a).count, 37)
    }

    func testSpotCheckWithoutStatesIsUnusable() throws {
        let (_, t) = try Fixture.trace("nostates.trace", states: false)
        XCTAssertThrowsError(try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 4, seed: 1))
    }
}
