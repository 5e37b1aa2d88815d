import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

/// A spot-check's plan names, before any checking, exactly the states the check opens — what a
/// verifier asks a node for (SPEC §9.5) — and a check over states fetched that way gives the
/// verdicts a check over the file's own states gives.
final class SpotCheckPlanTests: XCTestCase {
    /// A trace whose `state(at:)` calls are recorded (from several lanes at once).
    private final class Recording: OpenableTrace, @unchecked Sendable {
        let base: TraceContents
        private let lock = NSLock()
        private var opened = Set<Int>()
        init(_ base: TraceContents) { self.base = base }
        var header: TraceHeader { base.header }
        var signed: SignedCommitment { base.signed }
        var leaves: [TraceLeaf] { base.leaves }
        var opensStates: Bool { true }
        func state(at index: Int) throws(VerifyError) -> [UInt8] {
            lock.withLock { _ = opened.insert(index) }
            return try base.state(at: index)
        }
        var openedIndices: [Int] { lock.withLock { opened.sorted() } }
    }

    func testPlanNamesExactlyTheStatesTheCheckOpens() throws {
        let (_, t) = try Fixture.trace("plan.trace", maxTokens: 4)
        let backend = try BackendRegistry.make("cpu", threads: 2)
        for (samples, seed) in [(1, UInt64?.none), (4, 1), (16, 2), (16, nil), (200, 3)] {
            let trace = Recording(t)
            let r = try SpotCheck.verify(trace: trace, model: Fixture.model, modelDigest: Fixture.digest, backend: backend, samples: samples, seed: seed)
            XCTAssertTrue(r.verdict.holds, r.verdict.reason)
            let plan = try SpotCheck.Plan(schedule: t.header.schedule, root: t.signed.commitment.root, leafCount: t.leaves.count, samples: samples, seed: seed)
            XCTAssertEqual(plan.picks, r.samples)
            XCTAssertEqual(plan.distinctSteps, Set(r.samples).count)
            XCTAssertEqual(plan.groups.flatMap { $0 }.count, r.stepsRecomputed)
            XCTAssertEqual(plan.openedIndices, trace.openedIndices, "K = \(samples), seed \(String(describing: seed))")
        }
        // Refused before any drawing: K outside 1 … 2^20, a trace without steps.
        let schedule = t.header.schedule, root = t.signed.commitment.root
        for (samples, leaves, message) in [(0, 4, "--samples must be between 1 and"), (SpotCheck.maxSamples + 1, 4, "--samples must be between 1 and"),
                                            (16, 0, "the trace has no steps")] {
            XCTAssertThrowsError(try SpotCheck.Plan(schedule: schedule, root: root, leafCount: leaves, samples: samples, seed: nil)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
    }

    /// The states of the plan, fetched as one byte string: the same verdict as the file's states;
    /// one flipped bit in a fetched state fails the check at that state; the wrong length or a
    /// state left out is unusable input.
    func testFetchedStatesCheckAsTheFilesStates() throws {
        let (_, t) = try Fixture.trace("fetched.trace", maxTokens: 4)
        let (bare, _) = try Fixture.trace("fetched-bare.trace", maxTokens: 4, states: false)
        let index = try TraceIndex(path: bare)
        XCTAssertFalse(index.opensStates)
        XCTAssertEqual(index.signed, t.signed)
        let plan = try SpotCheck.Plan(schedule: t.header.schedule, root: t.signed.commitment.root, leafCount: t.leaves.count, samples: 8, seed: 5)
        let bytes = try plan.openedIndices.flatMap { (i) throws(VerifyError) in try t.state(at: i) }
        let fetched = try FetchedStatesTrace(index, indices: plan.openedIndices, bytes: bytes)
        let r = try SpotCheck.verify(trace: fetched, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 8, seed: 5)
        let fromFile = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 8, seed: 5)
        XCTAssertTrue(r.verdict.holds, r.verdict.reason)
        XCTAssertEqual(r.verdict.reason, fromFile.verdict.reason)

        // A lying opening: one bit of the first opened state flipped.
        var lie = bytes
        lie[3] ^= 0x10
        let lied = try SpotCheck.verify(trace: try FetchedStatesTrace(index, indices: plan.openedIndices, bytes: lie), model: Fixture.model,
                                        modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 8, seed: 5)
        XCTAssertFalse(lied.verdict.holds)
        XCTAssertTrue(lied.verdict.reason.contains("step \(plan.openedIndices[0]): the opened state does not hash to the leaf's step digest"), lied.verdict.reason)

        XCTAssertThrowsError(try FetchedStatesTrace(index, indices: plan.openedIndices, bytes: bytes.dropLast())) {
            XCTAssertTrue("\($0)".contains("\(bytes.count - 1) bytes of fetched states, expected \(bytes.count)"), "\($0)")
        }
        XCTAssertThrowsError(try FetchedStatesTrace(index, indices: [t.leaves.count], bytes: [])) {
            XCTAssertTrue("\($0)".contains("step \(t.leaves.count) is outside the trace's \(t.leaves.count) steps"), "\($0)")
        }
        let partial = try FetchedStatesTrace(index, indices: [], bytes: [])
        XCTAssertThrowsError(try SpotCheck.verify(trace: partial, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 8, seed: 5)) {
            XCTAssertTrue("\($0)".contains("was not fetched"), "\($0)")
        }
    }
}
