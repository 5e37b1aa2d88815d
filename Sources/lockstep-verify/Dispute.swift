import ArgumentParser
import Foundation
import Lockstep
import LockstepCommandLine

struct DisputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dispute",
        abstract: "Bisect two traces of the same request to the first divergent step, recompute it, write a fraud proof.",
        discussion: """
            Exit 0: trace A is right where the traces first differ (or they agree); 1: A is wrong there; 2: unusable input. \
            The referee opens the agreed inputs of that step from a trace with states, or, when both traces lack them, \
            asks the node a trace came from (A's, then B's) for just those states.
            """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var source: TraceSourceOption
    @Argument(help: "Trace A (the claim examined): a file, or its URL on a node (http://HOST:PORT/v1/traces/ID).") var traceA: String
    @Argument(help: "Trace B: a file or a URL.") var traceB: String
    @Option(name: .long, help: "Write the fraud proof to this file.") var proofOut: String?

    func run() throws {
        if let proofOut, let input = [traceA, traceB, common.model].first(where: { isSameFile($0, proofOut) }) {
            throw VerifyError("--proof-out \(proofOut) is the input \(input); the proof would overwrite it")
        }
        let files = [try source.localTrace(traceA, json: common.json), try source.localTrace(traceB, json: common.json)]
        let (model, digest, backend, _) = try common.load()
        // Each file is indexed and verified whole; the referee then reads only the states it opens.
        func valid<T>(_ outcome: TraceLoading.Outcome<T>) throws -> T {
            switch outcome {
            case let .valid(t): return t
            case let .invalid(v): throw VerifyError("a dispute needs two valid signed traces: \(v.reason)")
            }
        }
        var traces: [TraceContents] = [], indices: [TraceIndex] = []
        for path in files {
            let index = try valid(try TraceLoading.index(path: path))
            traces.append(try valid(try TraceLoading.verifyAll(index, path: path)))
            indices.append(index)
        }
        let stored = indices.firstIndex { $0.opensStates }
        let fetched = stored == nil ? try agreedStatesFromNodes(traces, indices) : nil
        let states: (any OpenableTrace)? = stored.map { indices[$0] } ?? fetched?.states
        let r = try Dispute.run(a: traces[0], b: traces[1], states: states, model: model, modelDigest: digest, backend: backend)
        if let proof = r.proof, let proofOut {
            do { try writeFile(atPath: proofOut, proof.bytes) } catch {
                throw VerifyError("the fraud proof: \(error.description)")
            }
        } else if let proofOut {
            let why = r.winner == nil ? "no step diverges" : "the verdict recomputes no step (a commitment alone decides it)"
            StandardStreams.error(terminalSafe("lockstep-verify: no fraud proof written to \(proofOut): \(why)\n"))
        }
        var extra: [String: Any] = ["rounds": r.rounds, "round_bound": r.roundBound,
                                    "bisection": r.transcript.map { [$0.lo, $0.hi] }, "backend": backend.name]
        if let w = r.winner { extra["right"] = w == .first ? "A" : w == .second ? "B" : "neither"; extra["right_trace"] = w == .first ? traceA : w == .second ? traceB : "neither" }
        if let proofOut, r.proof != nil { extra["proof"] = proofOut; extra["proof_bytes"] = r.proof!.bytes.count }
        // Where the referee's states came from: a trace's stored states, or a node asked for them.
        if let stored { extra["states_from"] = stored == 0 ? "trace A" : "trace B" }
        if let fetched {
            extra["states_from"] = fetched.from
            extra["states_fetched"] = fetched.count
            extra["states_fetched_bytes"] = fetched.bytes
        }
        try finish(r.verdict, command: "dispute", json: common.json, extra: extra)
    }

    /// For two traces without states of which one or both came from a node: the states the
    /// referee opens (`Dispute.statesOpened`), asked of A's node, else B's (SPEC §9.5), taken
    /// from the first node whose every state hashes to its agreed leaf. Nil when no trace came
    /// from a node or nothing is opened; else the states, which node gave them ("node A" or
    /// "node B"), how many and their bytes.
    /// - Throws: `VerifyError` when no node opened them all (each node's failure named).
    private func agreedStatesFromNodes(_ traces: [TraceContents], _ indices: [TraceIndex]) throws
        -> (states: FetchedStatesTrace, from: String, count: Int, bytes: Int)? {
        let steps = Dispute.statesOpened(a: traces[0], b: traces[1])
        var failures: [String] = []
        for (k, url) in [traceA, traceB].enumerated() where TraceSourceOption.isNodeURL(url) && !steps.isEmpty {
            do {
                let fetched = try source.fetchStates(steps, of: indices[k], from: url, json: common.json)
                for j in steps { _ = try fetched.checkedState(at: j, against: traces[0].leaves[j]).get() }
                return (fetched, k == 0 ? "node A" : "node B", steps.count, indices[k].header.stateByteCount(of: steps))
            } catch {
                failures.append("\(k == 0 ? "A" : "B"): \(error)")
            }
        }
        guard failures.isEmpty else { throw VerifyError("no node opened the agreed states the referee needs (\(failures.joined(separator: "; ")))") }
        return nil
    }
}

struct CheckProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-proof",
        abstract: "Re-check a fraud proof offline (exit 0 accepted, 1 rejected, 2 unusable input).")
    @OptionGroup var common: CommonOptions
    @Argument(help: "Fraud proof file (from `dispute --proof-out`); one larger than any proof for the model is refused unread (2).") var proof: String

    func run() throws {
        let (model, digest, backend, _) = try common.load()
        let data = try FraudProof.readFile(proof, for: model.config)
        let verdict: Verdict
        switch FraudProof.parse(data) {
        case let .failure(e): verdict = .fail("rejected: \(e.description)")
        case let .success(p): verdict = try p.check(model: model, modelDigest: digest, backend: backend)
        }
        try finish(verdict, command: "check-proof", json: common.json, extra: ["backend": backend.name])
    }
}
