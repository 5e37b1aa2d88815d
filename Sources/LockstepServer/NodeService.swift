import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTokenizer
import LockstepTrace

/// A generating node (DESIGN §4, SPEC §9): it answers generation requests with the text, the
/// signed commitment and a trace file that it keeps for verifiers. One request runs at a time on
/// the node's backend; up to `Limits.maxWaiting` more wait for it, and further ones are refused
/// as busy. `NodeHTTPServer` is a thin HTTP layer over this type; an app can call it directly.
public final class NodeService: @unchecked Sendable {   // mutable state behind `admission`; the engine behind `engine`
    /// What a node accepts.
    public struct Limits: Sendable, Equatable {
        /// The largest `max_tokens` a request may ask for.
        public var maxTokens: Int
        /// Requests that may wait for the engine beside the one running.
        public var maxWaiting: Int
        /// The largest request body, in bytes.
        public var maxBodyBytes: Int
        /// The most bytes of traces kept; after a new trace is written, the oldest others are
        /// removed until the rest fit (the new one is always kept). Nil: no limit.
        public var maxTraceBytes: Int?
        /// The most bytes the bodies being read may hold at once, over all connections (at
        /// least `maxBodyBytes`; by default 64 MiB or `maxBodyBytes` if larger); a body that
        /// would pass it gets 503.
        public var maxBodyBytesInFlight: Int
        /// The longest a request body may take to arrive, from the first byte read; a slower
        /// one gets 408.
        public var bodyTimeout: Duration

        public init(maxTokens: Int = 1024, maxWaiting: Int = 8, maxBodyBytes: Int = 1 << 20, maxTraceBytes: Int? = nil,
                    maxBodyBytesInFlight: Int? = nil, bodyTimeout: Duration = .seconds(10)) {
            let maxBodyBytesInFlight = maxBodyBytesInFlight ?? max(64 << 20, maxBodyBytes)
            precondition(maxTokens >= 0 && maxWaiting >= 0 && maxBodyBytes >= 1 && (maxTraceBytes ?? 0) >= 0
                         && maxBodyBytesInFlight >= maxBodyBytes && bodyTimeout > .zero, "NodeService.Limits: bad limits")
            self.maxTokens = maxTokens
            self.maxWaiting = maxWaiting
            self.maxBodyBytes = maxBodyBytes
            self.maxTraceBytes = maxTraceBytes
            self.maxBodyBytesInFlight = maxBodyBytesInFlight
            self.bodyTimeout = bodyTimeout
        }
    }

    /// The model every request runs on.
    public let model: LlamaModel
    /// `model.digest()`, computed once when the node starts.
    public let modelDigest: Digest
    /// The backend every request runs on (one request at a time).
    public let backend: any Backend
    /// The key that signs every commitment.
    public var publicKey: Ed25519PublicKey { key.publicKey }
    /// Where the traces are kept: `<trace id>.trace`.
    public let traceDirectory: String
    /// What the node accepts.
    public let limits: Limits

    private let key: NodeKey
    private let admission = NSLock()
    private var admitted = 0            // running + waiting, under `admission`
    private let engine = NSLock()       // held while a request runs

    /// - Parameters:
    ///   - backend: prepared here for the model's matrices.
    ///   - traceDirectory: created if missing; one node's own (unfinished trace files left in it
    ///     by an earlier run are removed).
    /// - Throws: `NodeError.failed` when the trace directory cannot be created or a file cannot
    ///   be created in it (checked here, so that a node that could not keep its traces does not
    ///   start and then fail every request).
    public init(model: LlamaModel, backend: any Backend, key: NodeKey, traceDirectory: String, limits: Limits = Limits()) throws(NodeError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: traceDirectory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw NodeError(.failed, "trace directory \(traceDirectory): not a directory")
        }
        do { try makeDirectories(atPath: traceDirectory) } catch { throw NodeError(.failed, "trace directory \(error.description)") }
        // A probe file, named like the unfinished files removed below.
        var probe = Array("\(traceDirectory)/.pending-probe-XXXXXX".utf8CString)
        let fd = probe.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw NodeError(.failed, "trace directory \(traceDirectory): cannot create a file in it (\(String(cString: strerror(errno))))")
        }
        close(fd)
        unlink(probe)
        // A node stopped in the middle of a request leaves its unfinished files behind (`.pending-*`,
        // and the trace writer's `.NAME.partial-*`); no client was given them. (So one directory
        // serves one node.)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: traceDirectory)) ?? []
        where name.hasPrefix(".pending-") || (name.hasPrefix(".") && name.contains(".trace.partial-")) {
            try? FileManager.default.removeItem(atPath: traceDirectory + "/" + name)
        }
        self.model = model
        self.backend = backend
        self.key = key
        self.traceDirectory = traceDirectory
        self.limits = limits
        self.modelDigest = model.digest()
        backend.prepare(model.weights.matrices)
    }

    /// `GET /v1/info`: what a client and a verifier need to know about this node.
    public var info: [String: Any] {
        let c = model.config
        return [
            "model_digest": modelDigest.hex, "contract_version": ContractVersion.current, "public_key": publicKey.hex,
            "backend": backend.name, "layers": c.layers, "dim": c.dim, "vocabulary_size": c.vocabularySize,
            "context_limit": c.contextLimit, "max_tokens_limit": limits.maxTokens, "max_body_bytes": limits.maxBodyBytes,
            "max_trace_bytes": limits.maxTraceBytes.map { $0 as Any } ?? NSNull(),
        ]
    }

    /// A checked request holding its place in the queue; run it with `run(_:onToken:)`. The
    /// place is given up when the job ends, whether it ran or not.
    public final class Job: Sendable {
        /// The prompt as token ids.
        public let promptTokens: [TokenID]
        public let request: GenerationRequest
        private let place: Place

        fileprivate init(promptTokens: [TokenID], request: GenerationRequest, place: Place) {
            self.promptTokens = promptTokens
            self.request = request
            self.place = place
        }
    }

    /// A place in the queue (running or waiting), given up when released from memory.
    fileprivate final class Place: Sendable {
        private let release: @Sendable () -> Void
        init(release: @escaping @Sendable () -> Void) { self.release = release }
        deinit { release() }
    }

    /// Takes a place in the queue.
    /// - Throws: `NodeError.busy` when `Limits.maxWaiting` requests already wait.
    private func takePlace() throws(NodeError) -> Place {
        admission.lock()
        defer { admission.unlock() }
        guard admitted <= limits.maxWaiting else {
            throw NodeError(.busy, "the node is busy: one request is running and \(limits.maxWaiting) are waiting; retry later")
        }
        admitted += 1
        return Place { [self] in
            admission.lock()
            admitted -= 1
            admission.unlock()
        }
    }

    /// Checks a request against the model and the node's limits and takes a place in the queue.
    /// - Throws: `NodeError.badRequest` (an empty prompt, a token outside the vocabulary, a prompt
    ///   that fills the context, `max_tokens` over the node's limit, a chat the template refuses),
    ///   `NodeError.busy` when `Limits.maxWaiting` requests already wait.
    public func admit(_ request: GenerationRequest) throws(NodeError) -> Job {
        let prompt = try promptTokens(request.prompt)
        guard request.maxTokens <= limits.maxTokens else {
            throw NodeError(.badRequest, "field 'max_tokens': this node allows at most \(limits.maxTokens), got \(request.maxTokens)")
        }
        return Job(promptTokens: prompt, request: request, place: try takePlace())
    }

    /// Runs an admitted request (blocking: waits for the requests ahead of it, then generates).
    /// - Parameter onToken: called with each token id as soon as it is chosen and the text it
    ///   completes (possibly empty, while a multi-byte character is incomplete); return false to
    ///   stop after this token (stop reason `caller`; the trace ends there, complete and signed).
    /// - Throws: `NodeError.badRequest` for a request the engine refuses, `NodeError.failed` when
    ///   the trace cannot be written.
    public func run(_ job: Job, onToken: (_ id: TokenID, _ text: String) -> Bool = { _, _ in true }) throws(NodeError) -> GenerationResult {
        engine.lock()
        defer { engine.unlock() }
        let request = job.request
        let pending = traceDirectory + "/.pending-\(UUID().uuidString).trace"
        var detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer)
        let started = Date()
        let result: TracedResult
        do {
            result = try TracedGeneration.run(model: model, backend: backend, prompt: job.promptTokens, maxTokens: request.maxTokens,
                                              sampler: request.sampler, key: key.privateKey, modelDigest: modelDigest, tracePath: pending,
                                              options: TraceOptions(storeStates: request.traceActivations)) { id in
                onToken(id, detokenizer.append(id))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: pending)
            if case .generation = error { throw NodeError(.badRequest, error.description) }
            throw NodeError(.failed, error.description)
        }
        let seconds = Date().timeIntervalSince(started)
        let id = Self.traceID(result.signed.commitment, storesStates: request.traceActivations)
        let path = tracePath(forID: id)
        // Same id, same commitment: the file already there (if any) has the same bytes
        // (Ed25519 signatures are deterministic), and rename replaces it atomically.
        guard rename(pending, path) == 0 else {
            let why = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: pending)
            throw NodeError(.failed, "trace \(id) cannot be kept: \(why)")
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        pruneTraces(keeping: path)
        return GenerationResult(promptTokens: job.promptTokens, tokens: result.tokens, text: model.tokenizer.decode(result.tokens),
                                stop: result.stop, signed: result.signed, backend: backend.name, traceID: id, traceBytes: bytes,
                                seconds: seconds)
    }

    /// `admit` then `run`.
    public func generate(_ request: GenerationRequest, onToken: (_ id: TokenID, _ text: String) -> Bool = { _, _ in true }) throws(NodeError) -> GenerationResult {
        try run(try admit(request), onToken: onToken)
    }

    /// The file of a trace this node gave. The trace with states (`<id>-states`) of a result given
    /// without them is written on demand, by replaying the request (`TracedGeneration.writeStatesTrace`:
    /// a node need not keep states, DESIGN §4); that blocks like a generation and waits in the same
    /// queue.
    /// - Throws: `NodeError.notFound` for an id that is not a trace id or names no trace here,
    ///   `NodeError.busy`, `NodeError.failed` when the states cannot be recomputed.
    public func tracePath(id: String) throws(NodeError) -> String {
        try Self.checkTraceID(id)
        let path = tracePath(forID: id), files = FileManager.default
        if files.fileExists(atPath: path) { return path }
        let base = tracePath(forID: String(id.dropLast(7)))
        guard id.hasSuffix("-states"), files.fileExists(atPath: base) else { throw NodeError(.notFound, "no trace \(id) on this node") }
        let place = try takePlace()
        defer { withExtendedLifetime(place) {} }
        engine.lock()
        defer { engine.unlock() }
        if files.fileExists(atPath: path) { return path }   // written while this request waited
        let signed: SignedCommitment
        do { signed = try TraceReader.read(path: base).signed } catch { throw NodeError(.failed, "trace \(id.dropLast(7)) cannot be read: \(error)") }
        do { try TracedGeneration.writeStatesTrace(of: signed, model: model, backend: backend, to: path) } catch {
            throw NodeError(.failed, "the states of trace \(id.dropLast(7)) cannot be recomputed: \(error)")
        }
        pruneTraces(keeping: path)
        return path
    }

    /// Removes the oldest traces (by modification time) but `keeping` until the directory's
    /// traces fit `Limits.maxTraceBytes`. Called with the engine held, so prunes never overlap;
    /// a trace being served when it is removed is still read to its end.
    private func pruneTraces(keeping: String) {
        guard let limit = limits.maxTraceBytes else { return }
        let files = FileManager.default
        let traces = ((try? files.contentsOfDirectory(atPath: traceDirectory)) ?? [])
            .filter { $0.hasSuffix(".trace") && Self.isTraceID(String($0.dropLast(6))) }
            .compactMap { name -> (path: String, bytes: Int, modified: Date)? in
                let path = traceDirectory + "/" + name
                guard let a = try? files.attributesOfItem(atPath: path), let bytes = a[.size] as? Int, let modified = a[.modificationDate] as? Date else { return nil }
                return (path, bytes, modified)
            }
            .sorted { ($0.modified, $0.path) < ($1.modified, $1.path) }
        var total = traces.reduce(0) { $0 + $1.bytes }
        for t in traces where total > limit && t.path != keeping {
            if (try? files.removeItem(atPath: t.path)) != nil { total -= t.bytes }
        }
    }

    /// A trace's id: the SHA-256 of its signed commitment's canonical encoding, in hex, then
    /// `-states` when the file stores every step's state.
    public static func traceID(_ commitment: Commitment, storesStates: Bool) -> String {
        SHA256Hasher.hash(commitment.encoding).hex + (storesStates ? "-states" : "")
    }

    /// Whether `id` has the form of a trace id (and so is safe as a file name).
    public static func isTraceID(_ id: String) -> Bool {
        let hex = id.hasSuffix("-states") ? id.dropLast(7) : Substring(id)
        return hex.utf8.count == 64 && hex.utf8.allSatisfy { (0x30 ... 0x39).contains($0) || (0x61 ... 0x66).contains($0) }
    }

    /// - Throws: `NodeError.notFound` unless `isTraceID(id)`.
    static func checkTraceID(_ id: String) throws(NodeError) {
        guard isTraceID(id) else {
            throw NodeError(.notFound, "'\(id.prefix(80))' is not a trace id (64 hex digits, then -states for a trace with states)")
        }
    }

    private func tracePath(forID id: String) -> String { traceDirectory + "/" + id + ".trace" }

    private func promptTokens(_ prompt: GenerationRequest.Prompt) throws(NodeError) -> [TokenID] {
        let tokens: [TokenID]
        switch prompt {
        case let .text(text):
            tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        case let .chat(message):
            let text: String
            do { text = try model.tokenizer.formatChat([ChatMessage(role: "user", content: message)]) } catch {
                throw NodeError(.badRequest, "field 'chat': \(error.description)")
            }
            tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        case let .tokens(ids):
            let v = model.config.vocabularySize
            if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= v }) {
                throw NodeError(.badRequest, "field 'prompt_tokens': entry \(bad) (\(ids[bad])) is outside the vocabulary of \(v) tokens")
            }
            tokens = ids
        }
        guard !tokens.isEmpty else { throw NodeError(.badRequest, "the prompt is empty") }
        let limit = model.config.contextLimit
        guard tokens.count <= limit else {   // SPEC §4.4: a prompt that fills the context still gives one token
            throw NodeError(.badRequest, "the prompt has \(tokens.count) tokens, more than the \(limit) positions of the model's context")
        }
        return tokens
    }
}

/// What a node answers a generation request with.
public struct GenerationResult: Sendable {
    /// The prompt as token ids.
    public let promptTokens: [TokenID]
    /// The generated token ids.
    public let tokens: [TokenID]
    /// The generated tokens as text.
    public let text: String
    /// Why the generation stopped (SPEC §4.4).
    public let stop: StopReason
    /// The signed commitment (SPEC §7.6).
    public let signed: SignedCommitment
    /// The backend that ran the request.
    public let backend: String
    /// The trace's id (`NodeService.traceID`); `GET /v1/traces/<id>` serves it.
    public let traceID: String
    /// The trace file's size.
    public let traceBytes: Int
    /// Wall-clock seconds of the generation with its tracing.
    public let seconds: Double

    /// The JSON answer (SPEC §9.2); the keys of `lockstep generate --json` where they overlap.
    public var jsonObject: [String: Any] {
        [
            "prompt_tokens": promptTokens.map(Int.init), "tokens": tokens.map(Int.init), "text": text, "stop_reason": stop.rawValue,
            "backend": backend, "contract_version": ContractVersion.current, "seconds": seconds, "commitment": signed.jsonObject,
            "trace_id": traceID, "trace_url": "/v1/traces/\(traceID)", "trace_bytes": traceBytes,
        ]
    }
}
