internal import CLockstepKernels
import LockstepCore
import LockstepNative

/// One matrix product to audit: the operands, the binary32 outputs the backend wrote and the
/// certificate it states for them.
public struct ProductClaim: @unchecked Sendable {
    /// The weight matrix W (`N × K`).
    public let weights: WeightMatrix
    /// The quantised activations X (`T × K`).
    public let activations: QuantizedActivations
    /// The outputs Y the backend wrote, `T × N`, entry `(t, n)` at `t·N + n`.
    public let output: [Float]
    /// The certificate Z (`T × N`).
    public let certificate: ExactProducts

    /// A claim; the shapes are checked by `Freivalds.check`, not here.
    public init(weights: WeightMatrix, activations: QuantizedActivations, output: [Float], certificate: ExactProducts) {
        self.weights = weights; self.activations = activations; self.output = output; self.certificate = certificate
    }
}

/// Which check a product failed.
public enum ProductCheckKind: String, Sendable {
    /// The output or certificate has the wrong shape.
    case shape
    /// A certificate entry is missing or outside the range that makes the field check conclusive.
    case certificateRange = "certificate_range"
    /// An output is not the contract's rounding of its certificate entry.
    case rounding
    /// The certificate fails the Freivalds check: it is not W·X.
    case freivalds
    /// An output of an activation row checked by direct exact recomputation is wrong.
    case recomputation
}

/// Why a product is rejected, and where.
public struct ProductCheckFailure: Sendable, Equatable, CustomStringConvertible {
    /// The check that failed.
    public let kind: ProductCheckKind
    /// The activation row (token of the pass), when the failure is in one.
    public let token: Int?
    /// The output (weight row), when the failure is at one entry.
    public let output: Int?
    /// What is wrong, in words.
    public let reason: String

    public var description: String { reason }
}

/// How the field arithmetic of a check is carried out. Both give the same field values.
public enum FieldArithmetic: String, Sendable, CaseIterable {
    /// The native Mersenne-reduction kernel (m127.c).
    case native
    /// GMP through `PrimeField.p127`, one GMP operation per field operation (slow; the reference).
    case gmp
}

/// The outcome of checking one product.
public struct ProductCheck: Sendable {
    /// nil when the product passed every check.
    public let failure: ProductCheckFailure?
    /// Operations in GF(p) spent on the product (multiplications and multiply-adds, the
    /// left combination counted for the first product of its matrix only).
    public let fieldOperations: Int
    /// Activation rows whose range exceeds what the field check can conclude (§8.5), checked
    /// by direct exact recomputation instead.
    public let tokensRecomputed: Int
}

/// Freivalds' check of exact matrix products in GF(2^127 − 1) (SPEC §8.5).
///
/// For a product with weights W (`N × K`), activations X (`T × K`), outputs Y and certificate
/// Z (`T × N`), with φ the ring homomorphism from dyadic rationals onto GF(p):
///
/// 1. range: every certificate entry of activation row `t` is a multiple of `2^L_t` and below
///    `2^H_t` in magnitude, where every exact entry of that row provably is too; rows with
///    `H_t + 1 − L_t > 126` are recomputed exactly instead (then φ is not injective enough);
/// 2. rounding: `Y[t][n] = fl32(Z[t][n])` bit for bit;
/// 3. Freivalds: for each challenge vector `r ∈ GF(p)^N`, `Σ_n r_n φ(Z[t][n]) = Σ_k u_k φ(X[t][k])`
///    with `u = rᵀφ(W)`, for every row `t`.
///
/// A certificate that is not W·X passes 3 with probability at most `1/p + 2^−192` per challenge
/// vector, and passing 1 makes `φ(Z) = φ(W·X)` imply `Z = W·X`.
public enum Freivalds {
    /// Bounds of a weight matrix used by the range condition.
    struct WeightBounds {
        /// The smallest exponent of a non-zero block scale or offset: every weight is a multiple
        /// of 2^minExponent. nil when every scale is zero.
        let minExponent: Int?
        /// Per block column: an upper bound of |w| over the column's rows and 32 positions.
        let columnMax: [Double]

        init(_ w: WeightMatrix) {
            var minE = Int.max
            var colMax = [Double](repeating: 0, count: w.blocksPerRow)
            let maxInt: Double = w.format == .q8_0 ? 128 : w.format == .q4_0 ? 8 : 15
            let base = w.bytes.baseAddress!
            for n in 0 ..< w.rows {
                for b in 0 ..< w.blocksPerRow {
                    let blk = base + n * w.rowBytes + b * w.format.blockBytes
                    let d = SplitHalf(bits: blk.loadUnaligned(as: UInt16.self))!
                    var m = Double(d.significand.magnitude) * maxInt * Double(sign: .plus, exponent: Int(d.exponent), significand: 1)
                    if d.significand != 0 { minE = min(minE, Int(d.exponent)) }
                    if w.format == .q4_1 {
                        let o = SplitHalf(bits: (blk + 2).loadUnaligned(as: UInt16.self))!
                        m += Double(o.significand.magnitude) * Double(sign: .plus, exponent: Int(o.exponent), significand: 1)
                        if o.significand != 0 { minE = min(minE, Int(o.exponent)) }
                    }
                    if m > colMax[b] { colMax[b] = m }
                }
            }
            minExponent = minE == Int.max ? nil : minE
            columnMax = colMax
        }
    }

    /// The range of activation row `t`: every exact output of the row is a multiple of
    /// `2^low` and below `2^high` in magnitude. nil when every output of the row is exactly 0.
    static func range(_ x: QuantizedActivations, token t: Int, bounds: WeightBounds) -> (low: Int, high: Int)? {
        guard let eW = bounds.minExponent else { return nil }
        var minE = Int.max
        var bound = 0.0
        for b in 0 ..< x.blocksPerRow {
            let xb = t * x.blocksPerRow + b
            var abs = 0
            for j in 0 ..< 32 { abs += Int(x.values[xb * 32 + j].magnitude) }
            guard abs > 0 else { continue }
            let e = Int(x.exponents[xb])
            minE = min(minE, e)
            bound += bounds.columnMax[b] * Double(abs) * Double(sign: .plus, exponent: e, significand: 1)
        }
        guard minE != Int.max, bound > 0 else { return nil }
        // The sum above is rounded (relative error below nb · 2^−53); 2^−40 covers it.
        let up = bound * (1 + 0x1p-40)
        return (eW + minE, Int(up.exponent) + 1)
    }

    /// The largest `H − L` for which the field check is conclusive: two values below 2^H in
    /// magnitude, multiples of 2^L, that agree mod p, differ by a multiple of 2^L below
    /// 2^(H+1) — that is, below p·2^L only when H + 1 − L ≤ 126.
    public static let maxSpan = 125

    /// Checks products that share one weight matrix with the same challenge vectors
    /// (`challenges[i]` has `N` elements; one vector per round), so that rᵀφ(W) is computed
    /// once per round for all of them.
    /// - Returns: one result per product, in order.
    public static func check(_ products: [ProductClaim], challenges: [[M127]], arithmetic: FieldArithmetic = .native) -> [ProductCheck] {
        guard let w = products.first?.weights else { return [] }
        precondition(products.allSatisfy { $0.weights.bytes.baseAddress == w.bytes.baseAddress }, "Freivalds.check: products of different matrices")
        precondition(challenges.allSatisfy { $0.count == w.rows }, "Freivalds.check: challenge length is not the matrix's row count")
        let bounds = WeightBounds(w)
        let n = w.rows, k = w.blocksPerRow * 32
        var combinations: [[M127]?] = Array(repeating: nil, count: challenges.count)   // u per round, computed on demand
        var results: [ProductCheck] = []
        for p in products {
            var ops = 0
            let x = p.activations, t = x.rows, z = p.certificate
            guard x.blocksPerRow == w.blocksPerRow, p.output.count == t * n, z.tokens == t, z.outputs == n else {
                results.append(ProductCheck(failure: ProductCheckFailure(kind: .shape, token: nil, output: nil,
                    reason: "the output has \(p.output.count) values and the certificate \(z.tokens) × \(z.outputs) for a \(t) × \(n) product"),
                                            fieldOperations: 0, tokensRecomputed: 0))
                continue
            }
            var failure: ProductCheckFailure?
            var skip = [UInt8](repeating: 0, count: t)   // rows not left to the field check
            var recomputed = 0
            rows: for row in 0 ..< t {
                guard let r = range(x, token: row, bounds: bounds) else {
                    // Every exact output of the row is 0: the outputs must be +0.
                    skip[row] = 1
                    if let j = (0 ..< n).first(where: { p.output[row * n + $0].bitPattern != 0 }) {
                        failure = ProductCheckFailure(kind: .rounding, token: row, output: j,
                            reason: "output (\(row), \(j)) is \(p.output[row * n + j]) but the exact product is 0")
                        break rows
                    }
                    continue
                }
                if r.high - r.low > maxSpan {
                    skip[row] = 1
                    recomputed += 1
                    if let f = recompute(w, x, token: row, output: p.output) { failure = f; break rows }
                    continue
                }
                for j in 0 ..< n {
                    guard let v = z[token: row, output: j] else {
                        failure = ProductCheckFailure(kind: .certificateRange, token: row, output: j,
                            reason: "the certificate states no value for output (\(row), \(j))")
                        break rows
                    }
                    if let lb = v.lowBit, let hb = v.magnitudeBound, lb < r.low || hb > r.high {
                        failure = ProductCheckFailure(kind: .certificateRange, token: row, output: j,
                            reason: "certificate entry (\(row), \(j)) = \(v) is not a multiple of 2^\(r.low) below 2^\(r.high), as every exact value of its row is")
                        break rows
                    }
                    let y = p.output[row * n + j]
                    if v.roundedToBinary32.bitPattern != y.bitPattern {
                        failure = ProductCheckFailure(kind: .rounding, token: row, output: j,
                            reason: "output (\(row), \(j)) is \(y) (0x\(String(y.bitPattern, radix: 16))) but its certificate \(v) rounds to \(v.roundedToBinary32)")
                        break rows
                    }
                }
            }
            if failure == nil {
                for (round, r) in challenges.enumerated() {
                    if combinations[round] == nil {
                        combinations[round] = leftCombination(w, r, arithmetic)
                        ops += n * w.blocksPerRow + n * k
                    }
                    let rhs = applyActivations(combinations[round]!, x, arithmetic)
                    let lhs = combineCertificate(r, z, skip: skip, arithmetic)
                    ops += t * (k + w.blocksPerRow) + n * skip.count(where: { $0 == 0 })
                    if let row = (0 ..< t).first(where: { skip[$0] == 0 && lhs[$0] != rhs[$0] }) {
                        failure = ProductCheckFailure(kind: .freivalds, token: row, output: nil,
                            reason: "Freivalds check \(round + 1) fails for activation row \(row): rᵀZ ≠ (rᵀW)X in GF(2^127 − 1), so the certificate is not W·X")
                        break
                    }
                }
            }
            results.append(ProductCheck(failure: failure, fieldOperations: ops, tokensRecomputed: recomputed))
        }
        return results
    }

    /// Recomputes every output of activation row `t` with the reference's exact accumulator.
    static func recompute(_ w: WeightMatrix, _ x: QuantizedActivations, token t: Int, output: [Float]) -> ProductCheckFailure? {
        for j in 0 ..< w.rows {
            var acc = ExactAccumulator()
            ExactDot.accumulateRow(w, row: j, x, xRow: t, into: &acc)
            let v = acc.rounded(), y = output[t * w.rows + j]
            if v.bitPattern != y.bitPattern {
                return ProductCheckFailure(kind: .recomputation, token: t, output: j,
                    reason: "output (\(t), \(j)) is \(y) but the exact product rounds to \(v) (row checked by direct recomputation)")
            }
        }
        return nil
    }

    // MARK: - The three field computations

    static func format(_ w: WeightMatrix) -> Int32 { w.format == .q8_0 ? 0 : w.format == .q4_0 ? 1 : 2 }

    /// u = rᵀφ(W), `K` elements.
    static func leftCombination(_ w: WeightMatrix, _ r: [M127], _ arithmetic: FieldArithmetic) -> [M127] {
        switch arithmetic {
        case .gmp: return GMPFreivalds.leftCombination(w, r)
        case .native:
            var u = [lk_m127](repeating: lk_m127(lo: 0, hi: 0), count: w.blocksPerRow * 32)
            let c = r.map(\.raw)
            u.withUnsafeMutableBufferPointer { up in
                lk_m127_left_combination(format(w), w.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Int64(w.rows),
                                         Int64(w.blocksPerRow), c, up.baseAddress!)
            }
            return u.map(M127.init)
        }
    }

    /// `Σ_k u_k φ(X[t][k])` for every activation row t.
    static func applyActivations(_ u: [M127], _ x: QuantizedActivations, _ arithmetic: FieldArithmetic) -> [M127] {
        switch arithmetic {
        case .gmp: return GMPFreivalds.applyActivations(u, x)
        case .native:
            var out = [lk_m127](repeating: lk_m127(lo: 0, hi: 0), count: x.rows)
            let raw = u.map(\.raw)
            out.withUnsafeMutableBufferPointer { o in
                lk_m127_apply_activations(raw, Int64(x.blocksPerRow), x.values, x.exponents, Int64(x.rows), o.baseAddress!)
            }
            return out.map(M127.init)
        }
    }

    /// `Σ_n r_n φ(Z[t][n])` for every activation row t (0 for rows marked in `skip`).
    static func combineCertificate(_ r: [M127], _ z: ExactProducts, skip: [UInt8], _ arithmetic: FieldArithmetic) -> [M127] {
        switch arithmetic {
        case .gmp: return GMPFreivalds.combineCertificate(r, z, skip: skip)
        case .native:
            var out = [lk_m127](repeating: lk_m127(lo: 0, hi: 0), count: z.tokens)
            let c = r.map(\.raw)
            z.significands.withUnsafeBytes { sig in
                out.withUnsafeMutableBufferPointer { o in
                    lk_m127_combine_certificate(c, Int64(z.outputs), sig.bindMemory(to: UInt64.self).baseAddress!, z.exponents,
                                                Int64(z.tokens), skip, o.baseAddress!)
                }
            }
            return out.map(M127.init)
        }
    }
}

/// The three field computations of `Freivalds` with GMP (`PrimeField.p127`), one GMP operation
/// per field operation: the reference the native kernel is tested against.
enum GMPFreivalds {
    static let field = PrimeField.p127
    /// φ(2^k) for k = 0 … 126.
    static let powers: [GMPInteger] = (0 ..< 127).map { field.power(GMPInteger(2), GMPInteger($0)) }
    static func pow2(_ e: Int) -> GMPInteger { powers[((e % 127) + 127) % 127] }

    static func integer(_ v: Int128) -> GMPInteger {
        let m = v.magnitude
        var bytes: [UInt8] = []
        for i in (0 ..< 16).reversed() { bytes.append(UInt8(truncatingIfNeeded: m >> UInt128(8 * i))) }
        let g = GMPInteger(bytesBigEndian: bytes)
        return v < 0 ? -g : g
    }

    static func leftCombination(_ w: WeightMatrix, _ r: [M127]) -> [M127] {
        let rg = r.map(\.gmp), base = w.bytes.baseAddress!
        var acc = [GMPInteger](repeating: .zero, count: w.blocksPerRow * 32)
        for n in 0 ..< w.rows {
            for b in 0 ..< w.blocksPerRow {
                let blk = base + n * w.rowBytes + b * w.format.blockBytes
                let d = SplitHalf(bits: blk.loadUnaligned(as: UInt16.self))!
                let rho = field.multiply(field.multiply(rg[n], GMPInteger(Int(d.significand))), pow2(Int(d.exponent)))
                var offset = GMPInteger.zero
                var ints = [Int](repeating: 0, count: 32)
                switch w.format {
                case .q8_0:
                    for j in 0 ..< 32 { ints[j] = Int((blk + 2 + j).load(as: Int8.self)) }
                case .q4_0, .q4_1:
                    let q = blk + (w.format == .q4_0 ? 2 : 4), shift = w.format == .q4_0 ? 8 : 0
                    for j in 0 ..< 16 {
                        let byte = (q + j).load(as: UInt8.self)
                        ints[j] = Int(byte & 0xF) - shift; ints[j + 16] = Int(byte >> 4) - shift
                    }
                    if w.format == .q4_1 {
                        let m = SplitHalf(bits: (blk + 2).loadUnaligned(as: UInt16.self))!
                        offset = field.multiply(field.multiply(rg[n], GMPInteger(Int(m.significand))), pow2(Int(m.exponent)))
                    }
                }
                for j in 0 ..< 32 { acc[b * 32 + j] = acc[b * 32 + j] + rho * GMPInteger(ints[j]) + offset }
            }
        }
        return acc.map { M127($0) }
    }

    static func applyActivations(_ u: [M127], _ x: QuantizedActivations) -> [M127] {
        let ug = u.map(\.gmp)
        return (0 ..< x.rows).map { t in
            var sum = GMPInteger.zero
            for b in 0 ..< x.blocksPerRow {
                let xb = t * x.blocksPerRow + b
                let q = (0 ..< 32).map { GMPInteger(Int(x.values[xb * 32 + $0])) }
                sum = sum + field.multiply(field.dot(Array(ug[b * 32 ..< b * 32 + 32]), q), pow2(Int(x.exponents[xb])))
            }
            return M127(sum)
        }
    }

    static func combineCertificate(_ r: [M127], _ z: ExactProducts, skip: [UInt8]) -> [M127] {
        let rg = r.map(\.gmp)
        return (0 ..< z.tokens).map { t in
            guard skip[t] == 0 else { return .zero }
            let phi = (0 ..< z.outputs).map { n in
                let i = t * z.outputs + n
                return field.multiply(integer(z.significands[i]), pow2(Int(z.exponents[i])))
            }
            return M127(field.dot(rg, phi))
        }
    }
}
