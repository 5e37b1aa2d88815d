import ArgumentParser
import Foundation
import Lockstep
import LockstepCommandLine

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit",
        abstract: "Replay the request on the backend under audit and check sampled matrix products with Freivalds' test in GF(2^127 − 1).",
        discussion: """
        The backend's products are checked against exact certificates (rounding, range, and r·Z = (r·W)·X for random r), \
        and the replayed leaves against the trace. Exit 0: the claim holds; 1: a product or a leaf is wrong (reason and where); \
        2: unusable input.
        """)
    @OptionGroup var common: CommonOptions
    @OptionGroup var source: TraceSourceOption
    @OptionGroup var signerOption: SignerOption
    @Option(name: .long, help: "Trace file, or a trace's URL on a node (http://HOST:PORT/v1/traces/ID).") var trace: String
    @Option(name: .long, help: "Matrix products to audit: a count K ≥ 1 (uniform among the replay's matmul calls) or 'all'.")
    var products: String = "8"
    @Option(name: .long, help: "Independent challenge vectors per product R (soundness error ≤ (1/p + 2^-192)^R ≈ 2^(-127R)).")
    var rounds: Int = 1
    @Option(name: .long, help: "Verifier seed for the product sample and the challenges; default: Fiat–Shamir from the root.")
    var seed: UInt64?
    @Option(name: .long, help: "Field arithmetic: native (Mersenne kernel) or gmp (one GMP call per operation, slow).")
    var fieldArithmetic: String = FieldArithmetic.native.rawValue
    @Option(name: .long, help: ArgumentHelp("Testing: the backend computes one product wrongly, CALL:TOKEN:OUTPUT[:consistent|output|field-alias] (SPEC §8.6).", visibility: .hidden))
    var injectProductFault: String?

    func run() throws {
        let count: Int?
        if products == "all" { count = nil } else {
            guard let k = Int(products), k >= 1 else { throw VerifyError("--products must be a count ≥ 1 or 'all', got '\(products)'") }
            count = k
        }
        guard (1 ... 64).contains(rounds) else { throw VerifyError("--rounds must be between 1 and 64, got \(rounds)") }
        guard let arithmetic = FieldArithmetic(rawValue: fieldArithmetic) else {
            throw VerifyError("--field-arithmetic must be native or gmp, got '\(fieldArithmetic)'")
        }
        let fault = try injectProductFault.map { (s: String) throws -> ProductFault in
            guard let f = ProductFault(s) else { throw VerifyError("--inject-product-fault expects CALL:TOKEN:OUTPUT[:KIND], got '\(s)'") }
            return f
        }
        let file = try source.localTrace(trace, json: common.json)
        let (model, digest, loaded, _) = try common.load()
        let backend: any Backend = fault.map { FaultyProductBackend(wrapping: loaded, fault: $0) } ?? loaded
        let t = try loadTrace(file, keepStates: false, signer: try signerOption.signer(), command: "audit", json: common.json)
        let options = AuditOptions(products: count, rounds: rounds, seed: seed, arithmetic: arithmetic, threads: common.threads)
        let r = try ProgressLine.showing("audit: replay steps recomputed", json: common.json) {
            try Audit.verify(trace: t, model: model, modelDigest: digest, backend: backend, options: options, progress: $0)
        }
        var extra: [String: Any] = [
            "backend": backend.name, "steps": t.leaves.count, "output_tokens": t.signed.commitment.outputTokens.count,
            "matmul_calls": r.matmulCalls, "products_audited": r.products.count, "rounds": r.rounds,
            "randomness": seed.map { "seed \($0)" } ?? "fiat-shamir", "field": "GF(2^127 - 1)", "field_arithmetic": arithmetic.rawValue,
            "soundness_error_log2": r.soundnessErrorLog2,
            "soundness_error": "per audited product: (1/p + 2^-192)^\(r.rounds) ≈ 2^-\(127 * r.rounds) (p = 2^127 - 1)",
            "field_operations": r.fieldOperations, "direct_operations": r.directOperations,
            "replay_seconds": r.replaySeconds, "matmul_seconds": r.matmulSeconds, "audited_product_seconds": r.auditedProductSeconds,
            "certificate_seconds": r.certificateSeconds, "verifier_seconds": r.verifierSeconds,
        ]
        if let fault { extra["injected_fault"] = fault.description }
        if common.json {
            extra["products"] = r.products.map { p -> [String: Any] in
                [
                    "call": p.call, "matrix": p.matrix?.tensor ?? NSNull(), "layer": p.matrix?.layer ?? NSNull(),
                    "rows": p.rows, "columns": p.columns, "tokens": p.tokens, "format": p.format.rawValue,
                    "first_position": p.firstPosition ?? NSNull(), "backend_seconds": p.backendSeconds,
                    "field_operations": p.fieldOperations, "tokens_recomputed": p.tokensRecomputed,
                    "failure": p.failure.map { f -> [String: Any] in
                        ["kind": f.kind.rawValue, "token": f.token ?? NSNull(), "output": f.output ?? NSNull(), "reason": f.reason]
                    } ?? NSNull(),
                ]
            }
        } else {
            extra["products"] = "\n" + r.products.map { p in
                "  call \(p.call): \(p.label)" + (p.failure.map { " FAILED [\($0.kind.rawValue)]" } ?? " ok")
            }.joined(separator: "\n")
        }
        try finish(r.verdict, command: "audit", json: common.json, extra: extra)
    }
}
