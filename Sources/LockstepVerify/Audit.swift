import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// How an audit runs (§8.5).
public struct AuditOptions: Sendable {
    /// The number of matmul calls to audit (distinct, uniform among all calls of the replay);
    /// nil audits every call.
    public var products: Int?
    /// Independent challenge vectors per product: the soundness error is at most `(1/p + 2^−192)^rounds`.
    public var rounds: Int
    /// Verifier seed for the product sample and the challenges; nil: Fiat–Shamir from the root.
    public var seed: UInt64?
    /// How the field arithmetic is done.
    public var arithmetic: FieldArithmetic
    /// Threads for the generic certificate (the prover side).
    public var threads: Int

    /// Defaults: 8 products, 1 round, Fiat–Shamir, native arithmetic, 1 thread.
    public init(products: Int? = 8, rounds: Int = 1, seed: UInt64? = nil, arithmetic: FieldArithmetic = .native, threads: Int = 1) {
        self.products = products; self.rounds = rounds; self.seed = seed; self.arithmetic = arithmetic; self.threads = threads
    }
}

/// One audited product.
public struct AuditedProduct: Sendable {
    /// Index of the matmul call in the replay (from 0).
    public let call: Int
    /// The matrix (nil if not one of the model's).
    public let matrix: MatrixName?
    /// Weight rows N, columns K, activation rows T.
    public let rows: Int, columns: Int, tokens: Int
    /// The weight block format.
    public let format: WeightFormat
    /// The token position of activation row 0 (from the replay's pass structure), when known.
    public let firstPosition: Int?
    /// Seconds the product took on the audited backend.
    public let backendSeconds: Double
    /// Field operations the check spent on it.
    public let fieldOperations: Int
    /// Activation rows checked by direct recomputation (range too wide for the field, §8.5).
    public let tokensRecomputed: Int
    /// nil when the product passed.
    public let failure: ProductCheckFailure?

    /// `blk.3.ffn_up.weight 1536×576 (Q4_1) × 33 tokens`.
    public var label: String {
        "\(matrix?.tensor ?? "an unnamed matrix") \(rows)×\(columns) (\(format.rawValue)) × \(tokens) token\(tokens == 1 ? "" : "s")"
    }
}

/// What an audit found, with its costs.
public struct AuditReport: Sendable {
    /// Holds when every audited product passes and the replayed leaves are the trace's.
    public let verdict: Verdict
    /// The audited products, in call order.
    public let products: [AuditedProduct]
    /// Matmul calls of the replay.
    public let matmulCalls: Int
    /// Challenge vectors per product.
    public let rounds: Int
    /// The replay on the audited backend (all its ops), seconds.
    public let replaySeconds: Double
    /// All matmul calls of the replay on the audited backend, seconds.
    public let matmulSeconds: Double
    /// The audited products on the audited backend, seconds.
    public let auditedProductSeconds: Double
    /// Stating the certificates of the audited products (the prover's work), seconds.
    public let certificateSeconds: Double
    /// The checks (challenges, rounding, range, Freivalds, recomputations), seconds.
    public let verifierSeconds: Double
    /// Field operations of the checks.
    public let fieldOperations: Int
    /// Multiply-adds of computing the audited products directly: Σ N·K·T.
    public let directOperations: Int

    /// log2 of the soundness error per product: `rounds · log2(1/p + 2^−192)` (≈ −127 per round).
    public var soundnessErrorLog2: Double { Double(rounds) * Audit.log2ErrorPerRound }
}

/// The Freivalds audit (§8.5): re-executes the request as the teacher-forced batched replay on
/// the backend under audit, records a sample of its matmul calls with operands and outputs,
/// obtains the exact certificate of each, and checks the outputs against the certificates and
/// the certificates against the operands in GF(2^127 − 1); the replayed leaves are compared with
/// the trace as `Replay` does.
public enum Audit {
    static let sampleTag: [UInt8] = Array("lockstep.audit.products.v1".utf8) + [0]
    static let transcriptTag: [UInt8] = Array("lockstep.audit.transcript.v1".utf8) + [0]
    static let challengeTag: [UInt8] = Array("lockstep.audit.challenge.v1".utf8) + [0]

    /// log2(1/p + 2^−192) for p = 2^127 − 1, as a binary64: −127 (the true value exceeds −127
    /// by less than 2^−126, far below the binary64 resolution at 127).
    public static let log2ErrorPerRound: Double = -127

    /// The stream of the product sample: SHA-256(tag ‖ u8 mode ‖ [u64 seed] ‖ root) as its key.
    public static func sampleStream(root: Digest, seed: UInt64?) -> HashStream {
        let h = SHA256Hasher()
        h.update(sampleTag); h.update([seed == nil ? 0 : 1])
        if let seed { h.update(littleEndian: seed) }
        h.update(root)
        return HashStream(seed: h.finalize())
    }

    /// The digest of what the prover stated for the products of one matrix, in call order:
    /// per product `u64 call ‖ u32 T ‖ u32 N ‖ u32 K ‖ X integers (i16) ‖ X exponents (i32) ‖
    /// Y (binary32) ‖ Z significands (i128) ‖ Z exponents (i32) ‖ Z stated flags (u8)`, all
    /// little-endian.
    public static func transcriptDigest(_ products: [(call: Int, claim: ProductClaim)]) -> Digest {
        let h = SHA256Hasher()
        h.update(transcriptTag)
        for (call, p) in products {
            h.update(littleEndian: UInt64(call))
            h.update(littleEndian: UInt32(p.activations.rows)); h.update(littleEndian: UInt32(p.weights.rows))
            h.update(littleEndian: UInt32(p.weights.columns))
            p.activations.values.withUnsafeBytes { h.update($0) }
            p.activations.exponents.withUnsafeBytes { h.update($0) }
            p.output.withUnsafeBytes { h.update($0) }
            p.certificate.significands.withUnsafeBytes { h.update($0) }
            p.certificate.exponents.withUnsafeBytes { h.update($0) }
            h.update(p.certificate.stated.map { $0 ? 1 : 0 })
        }
        return h.finalize()
    }

    /// Challenge vector `round` (from 0) of `n` elements for a matrix whose products have
    /// transcript digest `transcript`: uniform-ish elements of GF(p) (`PrimeField.randomElement`,
    /// GMP: 24 random bytes reduced mod p, no residue more likely than `1/p + 2^−192`) drawn from
    /// the stream keyed by SHA-256(tag ‖ u8 mode ‖ [u64 seed] ‖ root ‖ transcript ‖ u32 round).
    public static func challenges(n: Int, root: Digest, seed: UInt64?, transcript: Digest, round: Int) -> [M127] {
        let h = SHA256Hasher()
        h.update(challengeTag); h.update([seed == nil ? 0 : 1])
        if let seed { h.update(littleEndian: seed) }
        h.update(root); h.update(transcript.bytes); h.update(littleEndian: UInt32(round))
        var stream = HashStream(seed: h.finalize())
        return (0 ..< n).map { _ in M127(PrimeField.p127.randomElement(using: &stream)) }
    }

    /// Audits a trace on `backend`: the replay with `options.products` matmul calls recorded,
    /// their certificates (stated by `backend` when it is `ProductCertifying`, else by the
    /// generic `ExactProducts.compute`), the checks of `Freivalds.check` per matrix, and the
    /// leaf comparison of `Replay.verify`.
    /// - Returns: the verdict (a failing product first, with the step its row feeds; then the
    ///   first differing leaf) and the costs.
    /// - Parameter progress: the progress of the replay the audit rides on (`Replay.verify`).
    /// - Throws: `VerifyError` for a trace of another model or contract, or bad options.
    public static func verify(trace: TraceContents, model: LlamaModel, modelDigest: Digest, backend: any Backend,
                              options: AuditOptions = AuditOptions(),
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(VerifyError) -> AuditReport {
        guard options.products.map({ $0 >= 1 }) ?? true else { throw VerifyError("the number of products must be at least 1") }
        guard options.rounds >= 1 && options.rounds <= 64 else { throw VerifyError("the rounds must be between 1 and 64, got \(options.rounds)") }
        let c = trace.signed.commitment
        let auditor = AuditingBackend(wrapping: backend, model: model, count: options.products, stream: sampleStream(root: c.root, seed: options.seed))
        let replay = try Replay.verify(trace: trace, model: model, modelDigest: modelDigest, backend: auditor, progress: progress)
        let recorded = auditor.recorded

        // The prover states its certificates.
        var started = monotonicNow()
        let claims = recorded.map { r in
            let z = (backend as? any ProductCertifying)?.exactProducts(r.weights, r.activations, call: r.call)
                ?? ExactProducts.compute(r.weights, r.activations, threads: options.threads)
            return ProductClaim(weights: r.weights, activations: r.activations, output: r.output, certificate: z)
        }
        let certificateSeconds = monotonicNow() - started

        // The verifier: per matrix, challenges bound to everything stated, then the checks.
        started = monotonicNow()
        var checks = [ProductCheck?](repeating: nil, count: recorded.count)
        var groups: [UnsafeRawPointer?: [Int]] = [:], order: [UnsafeRawPointer?] = []
        for (i, r) in recorded.enumerated() {
            let key = r.weights.bytes.baseAddress
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        for key in order {
            let members = groups[key]!
            let transcript = transcriptDigest(members.map { (recorded[$0].call, claims[$0]) })
            let n = recorded[members[0]].weights.rows
            let r = (0 ..< options.rounds).map { challenges(n: n, root: c.root, seed: options.seed, transcript: transcript, round: $0) }
            for (i, result) in zip(members, Freivalds.check(members.map { claims[$0] }, challenges: r, arithmetic: options.arithmetic)) {
                checks[i] = result
            }
        }
        let verifierSeconds = monotonicNow() - started

        // The replay's passes (TracedGeneration.replay): positions in chunks of `replayChunk` from
        // 0, logits from the last prompt position on. A layer matrix's k-th use is chunk k; the
        // output head runs in the chunks that hold sample rows, from position np − 1.
        let np = c.request.promptTokens.count, chunk = TracedGeneration.replayChunk
        func firstPosition(_ r: RecordedProduct) -> Int? {
            guard let name = r.matrix else { return nil }
            if name.layer == nil { return max(np - 1, ((np - 1) / chunk + r.occurrence) * chunk) }
            return r.occurrence * chunk
        }
        let products = zip(recorded, checks).map { r, check in
            AuditedProduct(call: r.call, matrix: r.matrix, rows: r.weights.rows, columns: r.weights.columns, tokens: r.activations.rows,
                           format: r.weights.format, firstPosition: firstPosition(r),
                           backendSeconds: r.seconds, fieldOperations: check!.fieldOperations, tokensRecomputed: check!.tokensRecomputed,
                           failure: check!.failure)
        }
        let verdict = verdict(products: products, replay: replay.verdict, schedule: trace.header.schedule, trace: trace, calls: auditor.matmulCalls,
                              rounds: options.rounds)
        return AuditReport(verdict: verdict, products: products, matmulCalls: auditor.matmulCalls, rounds: options.rounds,
                           replaySeconds: replay.computeSeconds, matmulSeconds: auditor.matmulSeconds,
                           auditedProductSeconds: recorded.reduce(0) { $0 + $1.seconds }, certificateSeconds: certificateSeconds,
                           verifierSeconds: verifierSeconds, fieldOperations: products.reduce(0) { $0 + $1.fieldOperations },
                           directOperations: products.reduce(0) { $0 + $1.rows * $1.columns * $1.tokens })
    }

    /// A failing product first (it says more than the leaf it feeds), then the replay's verdict.
    static func verdict(products: [AuditedProduct], replay: Verdict, schedule: StepSchedule, trace: TraceContents, calls: Int, rounds: Int) -> Verdict {
        if let bad = products.first(where: { $0.failure != nil }), let f = bad.failure {
            var divergence: Divergence?
            if let start = bad.firstPosition, let t = f.token {
                let position = start + t
                let step: StepID = bad.matrix?.layer.map { .layer(position, $0) } ?? .sample(position)
                let index = schedule.firstIndex(ofPosition: position) + (step.kind == .layer ? Int(step.layer) + 1 : schedule.layers + 1)
                if index < trace.leaves.count {
                    divergence = Divergence(index: index, step: step, claimed: trace.leaves[index].stepDigest, computed: nil)
                }
            }
            var reason = "product \(bad.call) (\(bad.label)) is wrong [\(f.kind.rawValue)]: \(f.reason)"
            if !replay.holds { reason += "; the replay also fails: \(replay.reason)" }
            return .fail(reason, at: divergence ?? replay.divergence)
        }
        guard replay.holds else { return replay }
        return .ok("\(products.count) of \(calls) matrix products pass the Freivalds audit (\(rounds) challenge\(rounds == 1 ? "" : "s") each in GF(2^127 − 1)); \(replay.reason)")
    }
}
