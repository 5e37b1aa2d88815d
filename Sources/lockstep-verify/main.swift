import ArgumentParser
import Foundation
import Lockstep
import LockstepCommandLine
import LockstepServer

// Exit status: 0 the claim holds, 1 the claim is false, 2 unusable input (SPEC §8).
// ArgumentParser's own usage errors (64) are mapped to 2 as well.
VerifyMain.main()

struct VerifyMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockstep-verify",
        abstract: "Verify committed Lockstep traces: replay, spot-check, dispute, check-proof, audit (SPEC §8).",
        discussion: "Exit status: 0 the claim holds, 1 the claim is false (with the reason and the first divergent step), 2 unusable input.",
        subcommands: [ReplayCommand.self, SpotCheckCommand.self, DisputeCommand.self, CheckProofCommand.self, AuditCommand.self])

    /// A report that could not be written to stdout (a full disk) turns a claim that holds into
    /// exit status 2: the caller did not get the report it asked for.
    static func main() {
        var status = exitStatus()
        Downloads.removeAll()
        if let why = StandardStreams.outputFailure {
            StandardStreams.error("lockstep-verify: error: standard output: \(why); the report is incomplete\n")
            if status == 0 { status = 2 }
        }
        Foundation.exit(status)
    }

    private static func exitStatus() -> Int32 {
        do {
            var command = try parseAsRoot()
            try command.run()
            return 0
        } catch let e as ClaimFalse {
            return e.code
        } catch let e as VerifyError {
            StandardStreams.error(terminalSafe("lockstep-verify: error: \(e.description)\n"))
            return 2
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            StandardStreams.error(terminalSafe(fullMessage(for: error) + "\n"))
            return 2
        }
    }
}

/// Traces fetched from nodes for this run, removed before the process exits — also when it is
/// ended by SIGINT, SIGTERM or SIGHUP (then with status 128 + the signal, as a shell reports it;
/// a signal the process was started ignoring stays ignored), so a verifier run under a time
/// limit leaves no download behind.
enum Downloads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []   // only under `lock`
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []   // only under `lock`

    /// Records a download to remove; the first one arms the signal handlers.
    static func add(_ path: String) {
        lock.withLock {
            paths.append(path)
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM, SIGHUP] {
                // A signal this process was started ignoring (nohup, a background job) stays ignored.
                if let previous = signal(number, SIG_IGN), unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    removeAll()
                    _exit(128 + number)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    static func removeAll() {
        lock.withLock { for p in paths { unlink(p) } }
    }
}

/// Thrown after a report was printed, to set the exit status.
struct ClaimFalse: Error { let code: Int32 }

/// `--model`, `--backend`, `--threads`, `--json`.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "GGUF model file the trace claims to have run.")
    var model: String
    @Option(name: .long, help: "Compute backend: \(BackendRegistry.names.joined(separator: ", ")).")
    var backend: String = BackendRegistry.defaultName
    @Option(name: .long, help: "Worker threads for the backend, 1–\(BackendRegistry.maxThreads) (default: the processor count, at most 8, as lockstep).")
    var threads: Int = min(ProcessInfo.processInfo.activeProcessorCount, 8)
    @Flag(name: .long, help: "Print one JSON object.")
    var json = false
    /// The model, its digest, the backend (prepared for the model's matrices) and the seconds
    /// this once-per-model work took (hashing the weights, preparing the backend): outside every
    /// verification's own cost fields, reported as `model_setup_seconds`.
    func load() throws(VerifyError) -> (LlamaModel, Digest, any Backend, Double) {
        let model: LlamaModel
        do { model = try LlamaModel(path: self.model) } catch { throw VerifyError("--model: \(error.description)") }
        let backend: any Backend
        do { backend = try BackendRegistry.make(self.backend, threads: threads) } catch { throw VerifyError("--backend: \(error.description)") }
        let started = monotonicNow()
        let digest = model.digest()
        backend.prepare(model.weights.matrices)
        return (model, digest, backend, monotonicNow() - started)
    }
}

/// `--max-download-bytes` and `--fetch-timeout`, and the traces they bound: those given as a URL
/// on a live node.
struct TraceSourceOption: ParsableArguments {
    @Option(name: .long, help: "The largest trace fetched from a node (a trace given as http://HOST:PORT/v1/traces/ID), in bytes.")
    var maxDownloadBytes = 1 << 32
    @Option(name: .long, help: "The longest one exchange with a node may take, connecting, the node's recomputation and the transfer included, in seconds (1 to 86400).")
    var fetchTimeout = 120

    func validate() throws {
        guard (1 ... 86_400).contains(fetchTimeout) else {
            throw ValidationError("--fetch-timeout: \(fetchTimeout) is not a number of seconds from 1 to 86400")
        }
    }

    /// A client of the node holding `url` and the path to ask it for, bounded by `--fetch-timeout`.
    private func node(_ url: String) throws(VerifyError) -> (client: NodeClient, target: String) {
        do { return try NodeClient.resource(url, timeout: .seconds(Int64(fetchTimeout))) } catch { throw VerifyError(error.description) }
    }

    /// A trace argument as a local file: a path as given, or the URL of a trace on a live node
    /// (`http://HOST:PORT/v1/traces/ID`, from `lockstep serve`) fetched into a temporary file
    /// (removed when the command ends), at most `--max-download-bytes`, before any clock starts.
    /// - Parameter json: whether the output is JSON (then no status line is shown while fetching).
    /// - Throws: `VerifyError` for another scheme (`https://`, `file://`, …) that names no file.
    func localTrace(_ argument: String, json: Bool) throws(VerifyError) -> String {
        guard Self.isNodeURL(argument) else {
            if let scheme = argument.range(of: "^[A-Za-z][A-Za-z0-9+.-]*://", options: .regularExpression),
               !FileManager.default.fileExists(atPath: argument) {
                throw VerifyError("'\(argument.prefix(200))': \(argument[scheme]) addresses are not fetched: only http:// (a node serves plain HTTP, SPEC §9); anything else is a file path")
            }
            return argument
        }
        let node = try node(argument), limit = maxDownloadBytes
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-verify-\(UUID().uuidString).trace").path
        Downloads.add(path)
        do {
            _ = try Self.fetching("fetching \(argument)", json: json) {
                try runBlocking { try await node.client.download(node.target, to: path, maxBytes: limit) }
            }
        } catch let error as NodeError {
            throw VerifyError(error.description)   // it names the URL
        } catch {
            throw VerifyError("\(argument): \(error)")
        }
        return path
    }
}

extension TraceSourceOption {
    /// The stored states of `steps` of the trace at `url` (a node's `http://HOST:PORT/v1/traces/ID`),
    /// asked of the node (`NodeClient.states`, SPEC §9.5): exactly as many bytes as `index`'s header
    /// gives those states, at most `--max-download-bytes`; each is checked against its leaf when opened.
    func fetchStates(_ steps: [Int], of index: TraceIndex, from url: String, json: Bool) throws(VerifyError) -> FetchedStatesTrace {
        let expected = index.header.stateByteCount(of: steps)
        guard expected <= maxDownloadBytes else {
            throw VerifyError("\(url): the \(steps.count) states to open are \(expected) bytes, more than --max-download-bytes \(maxDownloadBytes)")
        }
        let node = try node(url)
        let bytes: [UInt8]
        do {
            bytes = try Self.fetching("asking \(url) for \(steps.count) states (\(expected) bytes)", json: json) {
                try runBlocking { try await node.client.states(ofTrace: node.target, steps: steps, expectedBytes: expected) }
            }
        } catch let error as NodeError {
            throw VerifyError(error.description)   // it names the URL
        } catch {
            throw VerifyError("\(url)/states: \(error)")
        }
        return try FetchedStatesTrace(index, indices: steps, bytes: bytes)
    }

    /// Whether a trace argument names a trace on a node (`http://…`) rather than a file.
    static func isNodeURL(_ argument: String) -> Bool { argument.hasPrefix("http://") }

    /// Runs `body` with `what` on the status line (a terminal only, never with `--json`), cleared after.
    private static func fetching<T>(_ what: String, json: Bool, _ body: () throws -> T) rethrows -> T {
        if !json { StatusLine.show(what + " …") }
        defer { if !json { StatusLine.clear() } }
        return try body()
    }
}

/// `--public-key`: the node whose signature a single trace must carry.
struct SignerOption: ParsableArguments {
    @Option(name: .long, help: "The node's public key (64 hex digits): a trace signed by any other key is a false claim (exit 1).")
    var publicKey: String?

    /// `--public-key`, parsed; nil when not given.
    func signer() throws(VerifyError) -> Ed25519PublicKey? {
        guard let publicKey else { return nil }
        guard let bytes = Hex.decode(publicKey), bytes.count == 32, let key = try? Ed25519PublicKey(rawRepresentation: bytes) else {
            throw VerifyError("--public-key: '\(publicKey.prefix(80))' is not an Ed25519 public key (64 hex digits)")
        }
        return key
    }
}

/// Prints a verdict (text or JSON) and sets the exit status.
func finish(_ verdict: Verdict, command: String, json: Bool, extra: [String: Any] = [:]) throws {
    if json {
        var o = extra
        o["command"] = command
        o["holds"] = verdict.holds
        o["reason"] = verdict.reason
        o["exit_status"] = verdict.holds ? 0 : 1
        o["divergence"] = verdict.divergence?.jsonObject ?? NSNull()
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
        StandardStreams.output(String(decoding: data, as: UTF8.self) + "\n")
    } else {
        var text = (verdict.holds ? "OK: " : "FAILED: ") + verdict.reason + "\n"
        if let d = verdict.divergence {
            text += "first divergent step: index \(d.index), token position \(d.step.position), "
            text += d.layer.map { "layer \($0)" } ?? (d.step.kind == .embedding ? "embedding" : "sample")
            text += "\n"
        }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { text += "\(k): \(humanValue(v, key: k))\n" }
        StandardStreams.output(terminalSafe(text))
    }
    if !verdict.holds { throw ClaimFalse(code: 1) }
}

/// A report value as one human-readable line: a duration (a key ending in `_seconds`) in seconds
/// to a tenth of a millisecond, with its unit; a list of more than 32 integers (such as a
/// spot-check's sampled steps) shows its first 32 and its length. `--json` keeps every value whole.
func humanValue(_ v: Any, key: String) -> String {
    if key.hasSuffix("_seconds"), let seconds = v as? Double { return String(format: "%.4f s", seconds) }
    guard let list = v as? [Int], list.count > 32 else { return "\(v)" }
    return "[" + list.prefix(32).map(String.init).joined(separator: ", ") + ", …] (\(list.count) in all; --json lists every one)"
}

/// Reads and verifies a whole trace; a structurally valid but false trace prints its verdict and exits 1.
func loadTrace(_ path: String, keepStates: Bool, signer: Ed25519PublicKey?, command: String, json: Bool) throws -> TraceContents {
    try validTrace(try TraceLoading.load(path: path, keepStates: keepStates, signer: signer), command: command, json: json)
}

/// The trace of a loading outcome; a structurally valid but false trace prints its verdict and exits 1.
func validTrace<Trace>(_ outcome: TraceLoading.Outcome<Trace>, command: String, json: Bool) throws -> Trace {
    switch outcome {
    case let .valid(t): return t
    case let .invalid(v):
        try finish(v, command: command, json: json)
        fatalError("unreachable")
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay",
        abstract: "Re-execute the request teacher-forced in one batched pass and compare every leaf.",
        discussion: """
            JSON costs: trace_read_seconds (reading and verifying the whole file), recompute_seconds (the teacher-forced \
            passes and their hashing), verify_seconds (both, and the comparison); model_setup_seconds (hashing the \
            model's weights and preparing the backend for them, once per model) is outside verify_seconds.
            """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var source: TraceSourceOption
    @OptionGroup var signerOption: SignerOption
    @Option(name: .long, help: "Trace file, or a trace's URL on a node (http://HOST:PORT/v1/traces/ID).") var trace: String

    func run() throws {
        let file = try source.localTrace(trace, json: common.json)
        let (model, digest, backend, setupSeconds) = try common.load()
        let started = monotonicNow()
        let t = try loadTrace(file, keepStates: false, signer: try signerOption.signer(), command: "replay", json: common.json)
        let read = monotonicNow() - started
        let r = try ProgressLine.showing("replay: steps recomputed", json: common.json) {
            try Replay.verify(trace: t, model: model, modelDigest: digest, backend: backend, progress: $0)
        }
        let total = monotonicNow() - started
        try finish(r.verdict, command: "replay", json: common.json, extra: [
            "steps": t.leaves.count, "output_tokens": t.signed.commitment.outputTokens.count, "backend": backend.name,
            "public_key": t.signed.publicKey.hex, "model_setup_seconds": setupSeconds,
            "trace_read_seconds": read, "recompute_seconds": r.computeSeconds, "verify_seconds": total,
        ])
    }
}

struct SpotCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spot-check",
        abstract: "Sample K steps, open them and their inputs and recompute only those steps (needs --trace-activations, or a node).",
        discussion: """
            The file is indexed (every record's leaf, the chain, the Merkle root against the signed commitment, the \
            signature) without reading the states; only the opened states are read, each checked against its leaf. \
            A trace without states given by its URL on a node is fetched without them, and the node is asked for \
            the states to open (states_from: node; states_fetched, states_fetched_bytes, and states_fetch_seconds, \
            which is outside verify_seconds: the node may first have to recompute them). \
            The sampled steps are checked in groups (a layer's steps together), one group per thread at a time: \
            lanes says how many threads did so. JSON costs: trace_read_seconds (indexing), open_seconds (reading and \
            checking the opened states) and recompute_seconds (recomputing the sampled steps), both summed over the lanes, \
            verify_seconds (all of the verification work, from start to end); \
            model_setup_seconds (hashing the model's weights and preparing the backend for them, once per model) is \
            outside verify_seconds.
            """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var source: TraceSourceOption
    @OptionGroup var signerOption: SignerOption
    @Option(name: .long, help: "Trace file (written with --trace-activations), or its URL on a node (http://HOST:PORT/v1/traces/ID).") var trace: String
    @Option(name: .long, help: "Number of sampled steps K (1 to 2^20).") var samples: Int = 16
    @Option(name: .long, help: "Verifier seed; default: Fiat–Shamir from the root.") var seed: UInt64?

    func run() throws {
        try SpotCheck.checkSampleCount(samples)
        let file = try source.localTrace(trace, json: common.json)
        let (model, digest, backend, setupSeconds) = try common.load()
        let started = monotonicNow()
        let index = try validTrace(try TraceLoading.index(path: file, signer: try signerOption.signer()), command: "spot-check", json: common.json)
        let read = monotonicNow() - started
        // A trace without states from a node: the node opens the states this check needs.
        var t: any OpenableTrace = index, fetched: (states: Int, bytes: Int, seconds: Double)?
        if !index.opensStates && TraceSourceOption.isNodeURL(trace) && !index.leaves.isEmpty {
            let fetchStarted = monotonicNow()
            let plan = try SpotCheck.Plan(schedule: index.header.schedule, root: index.signed.commitment.root, leafCount: index.leaves.count,
                                          samples: samples, seed: seed)
            t = try source.fetchStates(plan.openedIndices, of: index, from: trace, json: common.json)
            fetched = (plan.openedIndices.count, index.header.stateByteCount(of: plan.openedIndices), monotonicNow() - fetchStarted)
        }
        let r = try ProgressLine.showing("spot-check: sampled steps checked", json: common.json) {
            try SpotCheck.verify(trace: t, model: model, modelDigest: digest, backend: backend, samples: samples, seed: seed, progress: $0)
        }
        let total = monotonicNow() - started - (fetched?.seconds ?? 0)
        var extra: [String: Any] = [
            "steps": t.leaves.count, "samples": r.samples, "distinct_steps_recomputed": r.stepsRecomputed,
            "randomness": seed.map { "seed \($0)" } ?? "fiat-shamir", "backend": backend.name,
            "detection_probability_per_bad_fraction": "1 - (1 - f)^\(samples)", "model_setup_seconds": setupSeconds,
            "trace_read_seconds": read, "open_seconds": r.openSeconds, "recompute_seconds": r.computeSeconds, "verify_seconds": total,
            "lanes": r.lanes, "states_from": fetched == nil ? "trace" : "node",
        ]
        if let fetched {
            extra["states_fetched"] = fetched.states
            extra["states_fetched_bytes"] = fetched.bytes
            extra["states_fetch_seconds"] = fetched.seconds
        }
        try finish(r.verdict, command: "spot-check", json: common.json, extra: extra)
    }
}
