import Foundation
internal import CLockstepKernels
import LockstepCore

/// The exact, unrounded values `Z = W·X` of one matrix product (SPEC §2.3): the certificate the
/// prover states for the binary32 outputs `Y = fl32(Z)` of a product it computed (§8.5).
///
/// Shape: `tokens × outputs` (`T = x.rows` activation rows, `N = w.rows` weight rows), entry
/// `(t, n)` at index `t · outputs + n` like the product's output. Each entry is a `Dyadic`, or
/// nil when its exact value needs more than 127 bits of significand (the verifier then does not
/// rely on the certificate for that activation row, §8.5).
public struct ExactProducts: Sendable, Equatable {
    /// Activation rows T.
    public let tokens: Int
    /// Weight rows N (outputs per activation row).
    public let outputs: Int
    /// Significands, `tokens × outputs`.
    public var significands: [Int128]
    /// Exponents, `tokens × outputs`.
    public var exponents: [Int32]
    /// Whether each entry is stated (false: its value does not fit 127 bits).
    public var stated: [Bool]

    /// A certificate of zeros.
    public init(tokens: Int, outputs: Int) {
        precondition(tokens >= 0 && outputs >= 0)
        self.tokens = tokens; self.outputs = outputs
        significands = Array(repeating: 0, count: tokens * outputs)
        exponents = Array(repeating: 0, count: tokens * outputs)
        stated = Array(repeating: true, count: tokens * outputs)
    }

    /// Entry `(t, n)`, or nil when not stated.
    public subscript(token t: Int, output n: Int) -> Dyadic? {
        get {
            let i = t * outputs + n
            return stated[i] ? Dyadic(significand: significands[i], exponent: Int(exponents[i])) : nil
        }
        set {
            let i = t * outputs + n
            stated[i] = newValue != nil
            significands[i] = newValue?.significand ?? 0
            exponents[i] = Int32(clamping: newValue?.exponent ?? 0)
        }
    }

    /// Computes the exact products of `w` and `x` (the generic prover: integer arithmetic only,
    /// 128-bit sums with a wide-accumulator fallback; C, `exact_products.c`), splitting the
    /// weight rows over `threads` threads.
    /// - Precondition: `x.blocksPerRow == w.blocksPerRow`.
    public static func compute(_ w: WeightMatrix, _ x: QuantizedActivations, threads: Int = 1) -> ExactProducts {
        precondition(x.blocksPerRow == w.blocksPerRow, "ExactProducts: activation and weight widths differ")
        let n = w.rows, t = x.rows
        var sig = [UInt64](repeating: 0, count: 2 * n * t)
        var exp = [Int32](repeating: 0, count: n * t)
        var ok = [UInt8](repeating: 0, count: n * t)
        let format: Int32 = w.format == .q8_0 ? 0 : w.format == .q4_0 ? 1 : 2
        let parts = max(1, min(threads, n / 64))
        guard n > 0 && t > 0 else { return ExactProducts(tokens: t, outputs: n) }
        sig.withUnsafeMutableBufferPointer { s in
            exp.withUnsafeMutableBufferPointer { e in
                ok.withUnsafeMutableBufferPointer { o in
                    x.values.withUnsafeBufferPointer { xv in
                        x.exponents.withUnsafeBufferPointer { xe in
                            x.sums.withUnsafeBufferPointer { xs in
                                // Parts write disjoint weight rows of the outputs.
                                nonisolated(unsafe) let p = (w: w.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                             xv: xv.baseAddress!, xe: xe.baseAddress!, xs: xs.baseAddress!,
                                                             sig: s.baseAddress!, exp: e.baseAddress!, ok: o.baseAddress!)
                                let nb = Int64(w.blocksPerRow)
                                DispatchQueue.concurrentPerform(iterations: parts) { k in
                                    lk_exact_products(format, p.w, Int64(n), nb, p.xv, p.xe, p.xs, Int64(t),
                                                      Int64(n * k / parts), Int64(n * (k + 1) / parts), p.sig, p.exp, p.ok)
                                }
                            }
                        }
                    }
                }
            }
        }
        var z = ExactProducts(tokens: t, outputs: n)
        for i in 0 ..< n * t {
            z.significands[i] = Int128(bitPattern: UInt128(sig[2 * i + 1]) << 64 | UInt128(sig[2 * i]))
            z.exponents[i] = exp[i]
            z.stated[i] = ok[i] != 0
        }
        return z
    }
}

/// A backend that states its own certificates: the prover side of an audit (§8.5). A backend
/// that does not conform is certified by `ExactProducts.compute`, which any party can run.
public protocol ProductCertifying: Backend {
    /// The exact products behind the outputs this backend wrote for its `call`-th matmul call
    /// (counted from 0 over the backend's lifetime) with operands `w` and `x`.
    func exactProducts(_ w: WeightMatrix, _ x: QuantizedActivations, call: Int) -> ExactProducts
}
