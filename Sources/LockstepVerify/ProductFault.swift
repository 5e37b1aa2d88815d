import Foundation
import LockstepCore

/// A deliberately wrong matrix product (a test facility, SPEC §8.6): one output of one matmul
/// call is changed, and the backend's certificate for that call lies in a chosen way.
public struct ProductFault: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: String, Sendable, CaseIterable {
        /// The exact value is moved by one unit in the last place of its output (or by the
        /// value's lowest bit, whichever is larger: it stays on the row's grid), the output is
        /// the rounding of the moved value, and the certificate states the moved value:
        /// output and certificate agree, so only the Freivalds check can see it.
        case consistent
        /// The output is moved to the next binary32 value; the certificate is honest: the
        /// rounding check sees it.
        case output
        /// The exact value is moved by `∓p · 2^f` (f: the value's lowest bit), the output is the
        /// rounding of the moved value and the certificate states it: φ cannot see the change
        /// (p ≡ 0), so the rounding and the Freivalds equation both hold; only the range
        /// condition of §8.5 sees it.
        case fieldAlias = "field-alias"
    }

    /// The matmul call (counted from 0 over the backend's lifetime).
    public var call: Int
    /// The activation row of the changed output.
    public var token: Int
    /// The weight row of the changed output.
    public var output: Int
    /// How the certificate lies.
    public var kind: Kind

    /// A fault at output `(token, output)` of matmul call `call`.
    public init(call: Int, token: Int, output: Int, kind: Kind = .consistent) {
        precondition(call >= 0 && token >= 0 && output >= 0, "ProductFault: negative index")
        self.call = call; self.token = token; self.output = output; self.kind = kind
    }

    /// Parses `CALL:TOKEN:OUTPUT[:KIND]`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (3 ... 4).contains(parts.count), let c = Int(parts[0]), let t = Int(parts[1]), let o = Int(parts[2]), c >= 0, t >= 0, o >= 0 else { return nil }
        var kind = Kind.consistent
        if parts.count == 4 { guard let k = Kind(rawValue: parts[3]) else { return nil }; kind = k }
        self.init(call: c, token: t, output: o, kind: kind)
    }

    public var description: String { "\(call):\(token):\(output):\(kind.rawValue)" }

    /// The lie for an exact entry `z`: the stated entry and the output written.
    func apply(to z: Dyadic) -> (stated: Dyadic, output: Float) {
        let y = z.roundedToBinary32
        switch kind {
        case .consistent:
            let top = z.magnitudeBound.map { $0 - 1 } ?? 0                  // exponent of the leading bit
            let e = max(max(top - 23, -149), z.lowBit ?? -149)
            let moved = z.adding(powerOfTwo: e)
            return (moved, moved.roundedToBinary32)
        case .output:
            return (z, y.nextUp)
        case .fieldAlias:
            // z ∓ p·2^f with f the value's lowest bit: (z/2^f ∓ p)·2^f, a 127-bit significand.
            let f = z.lowBit ?? -160
            let m = z.isZero ? 0 : z.significand >> Int128(f - z.exponent)
            let p = (Int128(1) << 127) &- 1
            let moved = Dyadic(significand: m > 0 ? m - p : m + p, exponent: f)
            return (moved, moved.roundedToBinary32)
        }
    }
}

/// A backend that computes one product wrongly and lies about it in its certificate as
/// `fault` says; every other op and product runs on `fallback` unchanged. For tests of the audit.
public final class FaultyProductBackend: DelegatingBackend, ProductCertifying, @unchecked Sendable {
    public let fallback: any Backend
    public let fault: ProductFault
    public var name: String { fallback.name }
    private let lock = NSLock()
    private var calls = 0
    /// The stated entry at the faulted call, once it ran.
    private var stated: Dyadic?

    /// `backend` with `fault`; a fresh instance counts calls from 0.
    public init(wrapping backend: any Backend, fault: ProductFault) {
        fallback = backend
        self.fault = fault
    }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        fallback.matmul(w, x, into: y)
        let i = lock.withLock { defer { calls += 1 }; return calls }
        guard i == fault.call, fault.token < x.rows, fault.output < w.rows else { return }
        let exact = ExactProducts.compute(w, x)[token: fault.token, output: fault.output] ?? .zero
        let (entry, out) = fault.apply(to: exact)
        lock.withLock { stated = entry }
        y[fault.token * w.rows + fault.output] = out
    }

    public func exactProducts(_ w: WeightMatrix, _ x: QuantizedActivations, call: Int) -> ExactProducts {
        var z = ExactProducts.compute(w, x)
        if call == fault.call, let entry = lock.withLock({ stated }), fault.token < x.rows, fault.output < w.rows {
            z[token: fault.token, output: fault.output] = entry
        }
        return z
    }
}
