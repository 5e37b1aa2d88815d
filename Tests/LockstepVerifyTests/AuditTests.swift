import Foundation
import XCTest
import LockstepTestSupport
@testable import LockstepVerify
import Lockstep

/// `Audit.verify` on the tiny model: honest traces pass on every backend; a backend that
/// computes one product wrongly is caught, named and placed; faulted traces fail.
final class AuditTests: XCTestCase {
    /// Prompt [1, 5, 9] and 4 output tokens: one replay pass over 6 positions, 7 products per
    /// layer and the output head: 15 calls on the 2-layer tiny model.
    static let calls = 15

    func testHonestTraceAuditsOnEveryAvailableBackend() throws {
        let (_, t) = try Fixture.trace("audit-honest.trace", states: false)
        var ran: [String] = []
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            ran.append(name)
            let r = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend,
                                     options: AuditOptions(products: nil, rounds: 2))
            XCTAssertTrue(r.verdict.holds, "\(name): \(r.verdict.reason)")
            XCTAssertEqual(r.matmulCalls, Self.calls)
            XCTAssertEqual(r.products.count, Self.calls)
            XCTAssertEqual(r.soundnessErrorLog2, -254)
            XCTAssertTrue(r.products.allSatisfy { $0.failure == nil && $0.matrix != nil && $0.tokensRecomputed == 0 })
            XCTAssertEqual(Set(r.products.map(\.matrix!.tensor)).count, 15, "14 layer matrices and the head")
            XCTAssertEqual(r.products.last?.matrix?.layer, nil)
            XCTAssertGreaterThan(r.fieldOperations, 0)
        }
        XCTAssertTrue(ran.contains("reference") && ran.contains("cpu"))
        let sampled = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertTrue(sampled.verdict.holds, sampled.verdict.reason)
        XCTAssertEqual(sampled.products.count, 8)
        XCTAssertEqual(Set(sampled.products.map(\.call)).count, 8)
        let gmp = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                   options: AuditOptions(products: 4, arithmetic: .gmp))
        XCTAssertTrue(gmp.verdict.holds, gmp.verdict.reason)
    }

    /// The sample is deterministic for a root and seed, and changes with the seed.
    func testSampleIsDeterministic() throws {
        let (_, t) = try Fixture.trace("audit-sample.trace", states: false)
        func calls(_ seed: UInt64?) throws -> [Int] {
            try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                             options: AuditOptions(products: 5, seed: seed)).products.map(\.call)
        }
        XCTAssertEqual(try calls(nil), try calls(nil))
        XCTAssertEqual(try calls(3), try calls(3))
        let distinct = Set(try (0 ..< 6).map { try calls(UInt64($0)) })
        XCTAssertGreaterThan(distinct.count, 3)
    }

    /// Reservoir sampling picks every call with probability K / M: over 400 streams each of
    /// M = 29 calls is kept Binomial(400, K/M) times; accept within 5σ.
    func testReservoirIsUniform() {
        let k = 5, m = Self.calls, streams = 400
        var counts = [Int](repeating: 0, count: m)
        var ops = RandomOperands(seed: 1)
        let bytes = ops.weightBytes(.q8_0, rows: 2, columns: 32, spread: 1)
        let x = [Float](repeating: 1, count: 32).withUnsafeBufferPointer { QuantizedActivations($0, rows: 1, columns: 32) }
        withWeightMatrix(bytes, format: .q8_0, rows: 2, columns: 32) { w in
            for s in 0 ..< streams {
                let a = AuditingBackend(wrapping: ReferenceBackend(), model: Fixture.model, count: k,
                                        stream: Audit.sampleStream(root: SHA256Hasher.hash([1]), seed: UInt64(s)))
                var y = [Float](repeating: 0, count: 2)
                for _ in 0 ..< m { y.withUnsafeMutableBufferPointer { a.matmul(w, x, into: $0) } }
                let kept = a.recorded.map(\.call)
                XCTAssertEqual(Set(kept).count, k)
                for c in kept { counts[c] += 1 }
            }
        }
        let p = Double(k) / Double(m), mean = Double(streams) * p, sigma = (Double(streams) * p * (1 - p)).squareRoot()
        for (c, n) in counts.enumerated() { XCTAssertLessThanOrEqual(abs(Double(n) - mean), 5 * sigma, "call \(c) kept \(n) times") }
    }

    /// A backend that computes one product wrongly is caught by the check meant for the lie, the
    /// product is named, and the step it feeds is reported.
    func testFaultyProductIsCaughtAndPlaced() throws {
        let (_, t) = try Fixture.trace("audit-faulty.trace", states: false)
        let np = Fixture.prompt.count
        // Call 6: layer 0, the seventh product (ffn_down); row np is position np.
        for (kind, expected) in [(ProductFault.Kind.consistent, ProductCheckKind.freivalds), (.output, .rounding), (.fieldAlias, .certificateRange)] {
            let fault = ProductFault(call: 6, token: np, output: 3, kind: kind)
            let backend = FaultyProductBackend(wrapping: try BackendRegistry.make("cpu"), fault: fault)
            let r = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend,
                                     options: AuditOptions(products: nil))
            XCTAssertFalse(r.verdict.holds, "\(kind)")
            let bad = try XCTUnwrap(r.products.first { $0.failure != nil })
            XCTAssertEqual(bad.call, 6)
            XCTAssertEqual(bad.matrix?.tensor, "blk.0.ffn_down.weight")
            XCTAssertEqual(bad.failure?.kind, expected, "\(kind): \(r.verdict.reason)")
            XCTAssertEqual(bad.failure?.token, np)
            XCTAssertTrue(r.verdict.reason.contains("product 6 (blk.0.ffn_down.weight"), r.verdict.reason)
            XCTAssertEqual(r.verdict.divergence?.step, .layer(np, 0))
            XCTAssertEqual(r.products.filter { $0.failure != nil }.count, 1, "only the faulted product is wrong")
        }
        // A fault in the output head (its rows start at position np − 1) is placed at the sample step of its row.
        let head = FaultyProductBackend(wrapping: ReferenceBackend(), fault: ProductFault(call: 14, token: 2, output: 11))
        let r = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: head, options: AuditOptions(products: nil))
        XCTAssertEqual(r.verdict.divergence?.step, .sample(np + 1))
    }

    /// Traces that are wrong from some step fail the audit (the replayed leaves), never pass.
    func testFaultedTracesFail() throws {
        for (k, fault) in ReplayTests.faults.enumerated() {
            let (_, t) = try Fixture.trace("audit-fault-\(k).trace", fault: fault, states: false)
            let r = try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                     options: AuditOptions(products: 4))
            XCTAssertFalse(r.verdict.holds)
            XCTAssertEqual(r.verdict.divergence?.step, fault.step)
        }
        let (_, t) = try Fixture.trace("audit-opts.trace", states: false)
        XCTAssertThrowsError(try Audit.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                              options: AuditOptions(products: 0)))
        XCTAssertThrowsError(try Audit.verify(trace: t, model: Fixture.model, modelDigest: SHA256Hasher.hash([1]), backend: ReferenceBackend()))
    }
}
