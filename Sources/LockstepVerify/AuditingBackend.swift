import Foundation
import LockstepCore
import LockstepModel
import LockstepNative

/// A weight matrix of a model by its GGUF tensor name.
public struct MatrixName: Sendable, Hashable, CustomStringConvertible {
    /// The tensor, e.g. `blk.3.ffn_up.weight` or `output.weight`.
    public let tensor: String
    /// The transformer block, or nil for the output head.
    public let layer: Int?

    public var description: String { tensor }

    /// The model's weight matrices by the address of their bytes.
    static func table(_ model: LlamaModel) -> [UnsafeRawPointer: MatrixName] {
        var t: [UnsafeRawPointer: MatrixName] = [:]
        for (l, w) in model.weights.layers.enumerated() {
            let named: [(WeightMatrix, String)] = [(w.query, "attn_q"), (w.key, "attn_k"), (w.value, "attn_v"), (w.attentionOutput, "attn_output"),
                                                   (w.gate, "ffn_gate"), (w.up, "ffn_up"), (w.down, "ffn_down")]
            for (m, s) in named { if let p = m.bytes.baseAddress { t[p] = MatrixName(tensor: "blk.\(l).\(s).weight", layer: l) } }
        }
        if let p = model.weights.output.bytes.baseAddress {
            let tied = model.file.tensor(named: "output.weight") == nil
            t[p] = MatrixName(tensor: tied ? "token_embd.weight (tied output head)" : "output.weight", layer: nil)
        }
        return t
    }
}

/// One matmul call recorded by an `AuditingBackend`.
public struct RecordedProduct: @unchecked Sendable {
    /// Index of the call among all matmul calls of the run (from 0).
    public let call: Int
    /// The matrix, when it is one of the model's.
    public let matrix: MatrixName?
    /// How many earlier calls used the same matrix (the pass of a replay, §8.5).
    public let occurrence: Int
    /// The operands of the call.
    public let weights: WeightMatrix
    /// The quantised activations (`T × K`) of the call.
    public let activations: QuantizedActivations
    /// The outputs the backend wrote, `T × N`.
    public let output: [Float]
    /// Seconds the call took on the audited backend.
    public let seconds: Double
}

/// Wraps the backend under audit: every op runs on it unchanged; each matmul call is timed, and
/// a sample of them (or all) is recorded with its operands and outputs for the Freivalds check.
///
/// The sample is `count` distinct calls, uniform among all calls of the run, chosen by reservoir
/// sampling as the calls arrive (the total is not known in advance): the first `count` calls are
/// kept; call `i ≥ count` replaces slot `j` when `j`, uniform in `0 … i`, is below `count`. The
/// draws come from `stream`, which depends on the commitment root and the verifier seed only.
public final class AuditingBackend: DelegatingBackend, @unchecked Sendable {
    /// The backend under audit.
    public let fallback: any Backend
    /// The audited backend's name.
    public var name: String { fallback.name }
    /// The number of calls to record; nil records every call.
    public let count: Int?
    private let names: [UnsafeRawPointer: MatrixName]
    private var stream: HashStream
    private let lock = NSLock()
    private var occurrences: [UnsafeRawPointer: Int] = [:]
    private var kept: [RecordedProduct] = []
    private var calls = 0
    private var seconds = 0.0

    /// - Parameters:
    ///   - backend: the backend under audit.
    ///   - model: names the matrices.
    ///   - count: calls to record (nil: all).
    ///   - stream: the randomness of the reservoir.
    public init(wrapping backend: any Backend, model: LlamaModel, count: Int?, stream: HashStream) {
        precondition(count.map { $0 >= 1 } ?? true, "AuditingBackend: count must be at least 1")
        fallback = backend
        names = MatrixName.table(model)
        self.count = count
        self.stream = stream
    }

    /// Matmul calls so far.
    public var matmulCalls: Int { lock.withLock { calls } }
    /// Seconds all matmul calls took on the backend.
    public var matmulSeconds: Double { lock.withLock { seconds } }
    /// The recorded calls, in call order.
    public var recorded: [RecordedProduct] { lock.withLock { kept.sorted { $0.call < $1.call } } }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        let started = monotonicNow()
        fallback.matmul(w, x, into: y)
        let dt = monotonicNow() - started
        lock.withLock {
            let i = calls
            calls += 1
            seconds += dt
            let key = w.bytes.baseAddress
            let occurrence = key.map { occurrences[$0, default: 0] } ?? 0
            if let key { occurrences[key] = occurrence + 1 }
            var slot: Int? = kept.count
            if let count, kept.count >= count {
                let j = uniform(below: UInt64(i) + 1)
                slot = j < count ? j : nil
            }
            guard let slot else { return }
            let record = RecordedProduct(call: i, matrix: key.flatMap { names[$0] }, occurrence: occurrence, weights: w, activations: x,
                                         output: Array(y.prefix(x.rows * w.rows)), seconds: dt)
            if slot == kept.count { kept.append(record) } else { kept[slot] = record }
        }
    }

    /// Uniform in `0 ..< bound` (rejection of the biased top values).
    private func uniform(below bound: UInt64) -> Int {
        let limit = (UInt64.max / bound) * bound
        while true {
            let v = stream.next()
            if v < limit { return Int(v % bound) }
        }
    }
}
