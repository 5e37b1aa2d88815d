import Foundation
import XCTest
import LockstepTestSupport
@testable import LockstepVerify
import Lockstep

/// The pieces of the audit (§8.5): field arithmetic against GMP, the rounding of dyadic values
/// against the exact accumulator, certificates against an independent GMP evaluation of W·X, and
/// the three checks against honest and lying provers.
final class FreivaldsTests: XCTestCase {
    static let p = PrimeField.p127

    func randomElement(_ g: inout SplitMix64) -> M127 { M127(Self.p.randomElement(using: &g)) }

    func testM127AgreesWithGMP() {
        var g = SplitMix64(seed: 11)
        let f = Self.p, two = GMPInteger(2), half = f.inverse(two)!
        func pow2(_ e: Int) -> GMPInteger { e >= 0 ? f.power(two, GMPInteger(e)) : f.power(half, GMPInteger(-e)) }
        var samples: [M127] = [.zero, .one, M127(Self.p.modulus - GMPInteger(1)), M127(lo: .max, hi: .max), M127(lo: .max, hi: .max >> 1)]
        for _ in 0 ..< 300 { samples.append(randomElement(&g)) }
        XCTAssertEqual(M127(lo: .max, hi: .max >> 1), .zero, "p itself reduces to 0")
        for (i, a) in samples.enumerated() {
            let b = samples[(i * 7 + 3) % samples.count]
            XCTAssertEqual((a * b).gmp, f.multiply(a.gmp, b.gmp))
            XCTAssertEqual((a + b).gmp, f.add(a.gmp, b.gmp))
            XCTAssertEqual((a - b).gmp, f.subtract(a.gmp, b.gmp))
            XCTAssertEqual(M127(a.gmp), a)
            let e = Int(g.next() % 801) - 400
            XCTAssertEqual(a.timesPowerOfTwo(e).gmp, f.multiply(a.gmp, pow2(e)), "2^\(e)")
        }
        // Dyadic rationals, including the extreme significands.
        let sigs: [Int128] = [0, 1, -1, .max, .min, .min + 1, Int128(Int64.max) * 12345, -(Int128(1) << 126) + 77]
        for s in sigs {
            for e in [-500, -149, -1, 0, 1, 64, 127, 300] {
                XCTAssertEqual(M127(significand: s, exponent: e).gmp, f.multiply(GMPFreivalds.integer(s), pow2(e)), "\(s)·2^\(e)")
            }
        }
    }

    /// `Dyadic.roundedToBinary32` against the reference's `ExactAccumulator` rounding: random
    /// significands of every width at every exponent, ties, subnormals, overflow, signed zeros.
    func testDyadicRoundingAgreesWithTheExactAccumulator() {
        var g = SplitMix64(seed: 3)
        var cases: [Dyadic] = [
            .zero, Dyadic(significand: 1, exponent: -149), Dyadic(significand: 1, exponent: -150), Dyadic(significand: 3, exponent: -151),
            Dyadic(significand: -1, exponent: -150), Dyadic(significand: -1, exponent: -151), Dyadic(significand: 1, exponent: -400),
            Dyadic(significand: (1 << 24) - 1, exponent: 104), Dyadic(significand: (1 << 25) - 1, exponent: 103),
            Dyadic(significand: 1, exponent: 128), Dyadic(significand: -(1 << 24) + 1, exponent: 104),
            Dyadic(significand: (1 << 23) - 1, exponent: -149), Dyadic(significand: (1 << 24) - 1, exponent: -150),
            Dyadic(significand: .max, exponent: -200), Dyadic(significand: .min, exponent: -250), Dyadic(significand: .min + 1, exponent: 0),
        ]
        for _ in 0 ..< 4000 {
            let width = Int(g.next() % 127) + 1
            var m = UInt128(g.next()) << 64 | UInt128(g.next())
            m >>= UInt128(128 - width)
            if g.next() % 4 == 0 { m |= 1 << UInt128(max(width - 26, 0)) }   // near ties
            let s = Int128(m) * (g.next() % 2 == 0 ? 1 : -1)
            let top = Int(g.next() % 330) - 180                               // exponent of the leading bit
            cases.append(Dyadic(significand: s, exponent: top - width + 1))
        }
        for d in cases {
            var acc = ExactAccumulator()
            // |chunk| < 2^62: the significand in pieces of 60 bits.
            let negative = d.significand < 0
            var m = d.significand.magnitude, e = d.exponent
            var inRange = true
            while m != 0 {
                let chunk = Int64(m & ((1 << 60) - 1))
                if chunk != 0 {
                    guard e >= ExactAccumulator.minExponent && e <= ExactAccumulator.maxTermExponent else { inRange = false; break }
                    acc.add(negative ? -chunk : chunk, exponent: e)
                }
                m >>= 60; e += 60
            }
            guard inRange else { continue }
            XCTAssertEqual(d.roundedToBinary32.bitPattern, acc.rounded().bitPattern, "\(d)")
        }
    }

    /// Every certificate entry equals W·X evaluated independently with GMP integers (scaled by
    /// 2^640), and rounds to the reference backend's output.
    func testCertificatesAreTheExactProducts() throws {
        var pow2: [GMPInteger] = [GMPInteger(1)]
        for _ in 0 ..< 1200 { pow2.append(pow2.last! * GMPInteger(2)) }
        let scale = 640
        for format in WeightFormat.allCases {
            for (k, shape) in productShapes.enumerated() {
                var ops = RandomOperands(seed: UInt64(100 + k))
                let bytes = ops.weightBytes(format, rows: shape.rows, columns: shape.columns, spread: shape.weightSpread)
                let xs = ops.activations(rows: shape.tokens, columns: shape.columns, spread: shape.activationSpread)
                let x = xs.withUnsafeBufferPointer { QuantizedActivations($0, rows: shape.tokens, columns: shape.columns) }
                try withWeightMatrix(bytes, format: format, rows: shape.rows, columns: shape.columns) { w in
                    let z = ExactProducts.compute(w, x, threads: 2)
                    var y = [Float](repeating: 0, count: shape.rows * shape.tokens)
                    y.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(w, x, into: $0) }
                    for t in 0 ..< shape.tokens {
                        for n in 0 ..< shape.rows {
                            let entry = try XCTUnwrap(z[token: t, output: n], "\(format) \(shape) (\(t), \(n)) not stated")
                            XCTAssertEqual(entry.roundedToBinary32.bitPattern, y[t * shape.rows + n].bitPattern)
                            let stated = GMPFreivalds.integer(entry.significand) * pow2[entry.exponent + scale]
                            XCTAssertEqual(stated, Self.exactTimesPowerOfTwo(w, x, t, n, scale, pow2), "\(format) \(shape) (\(t), \(n))")
                        }
                    }
                }
            }
        }
    }

    /// Sums whose terms span more octaves than the 128-bit fast path takes go through the wide
    /// accumulator: stated exactly when the value fits 127 bits, not stated otherwise.
    func testWideCertificates() {
        var pow2: [GMPInteger] = [GMPInteger(1)]
        for _ in 0 ..< 1200 { pow2.append(pow2.last! * GMPInteger(2)) }
        var ops = RandomOperands(seed: 8)
        let rows = 12, columns = 96
        for format in WeightFormat.allCases {
            let bytes = ops.weightBytes(format, rows: rows, columns: columns, spread: 4)
            var xs = ops.activations(rows: 3, columns: columns, spread: 2)
            // Row 0: block exponents 88 octaves apart (beyond the 128-bit fast path, within 127
            // bits); row 1: 220 octaves apart (too wide to state).
            for j in 0 ..< 32 { xs[j] *= 0x1p44; xs[32 + j] *= 0x1p-44; xs[columns + j] *= 0x1p100; xs[columns + 64 + j] *= 0x1p-120 }
            let x = xs.withUnsafeBufferPointer { QuantizedActivations($0, rows: 3, columns: columns) }
            withWeightMatrix(bytes, format: format, rows: rows, columns: columns) { w in
                let z = ExactProducts.compute(w, x)
                var stated = 0, unstated = 0
                for t in 0 ..< 3 {
                    for n in 0 ..< rows {
                        guard let entry = z[token: t, output: n] else { unstated += 1; XCTAssertEqual(t, 1); continue }
                        stated += 1
                        let value = GMPFreivalds.integer(entry.significand) * pow2[entry.exponent + 640]
                        XCTAssertEqual(value, Self.exactTimesPowerOfTwo(w, x, t, n, 640, pow2), "\(format) (\(t), \(n))")
                    }
                }
                XCTAssertGreaterThan(unstated, 0, "\(format)")
                XCTAssertGreaterThanOrEqual(stated, 2 * rows)
            }
        }
    }

    /// Σ_k w[n,k]·x[t,k] · 2^scale, from the decoded operands (SPEC §2.2, §2.1), with GMP.
    static func exactTimesPowerOfTwo(_ w: WeightMatrix, _ x: QuantizedActivations, _ t: Int, _ n: Int, _ scale: Int, _ pow2: [GMPInteger]) -> GMPInteger {
        var sum = GMPInteger.zero
        for b in 0 ..< w.blocksPerRow {
            let blk = w.bytes.baseAddress! + n * w.rowBytes + b * w.format.blockBytes
            let d = SplitHalf(bits: blk.loadUnaligned(as: UInt16.self))!
            let xb = t * x.blocksPerRow + b, e = Int(x.exponents[xb])
            for j in 0 ..< 32 {
                let q = Int(x.values[xb * 32 + j])
                let wi: Int
                switch w.format {
                case .q8_0: wi = Int((blk + 2 + j).load(as: Int8.self))
                case .q4_0: let byte = (blk + 2 + j % 16).load(as: UInt8.self); wi = Int(j < 16 ? byte & 0xF : byte >> 4) - 8
                case .q4_1: let byte = (blk + 4 + j % 16).load(as: UInt8.self); wi = Int(j < 16 ? byte & 0xF : byte >> 4)
                }
                sum = sum + GMPInteger(Int(d.significand) * wi * q) * pow2[Int(d.exponent) + e + scale]
                if w.format == .q4_1 {
                    let m = SplitHalf(bits: (blk + 2).loadUnaligned(as: UInt16.self))!
                    sum = sum + GMPInteger(Int(m.significand) * q) * pow2[Int(m.exponent) + e + scale]
                }
            }
        }
        return sum
    }

    /// A product of the test: Q4_1 70 × 96, 9 tokens (the first all zeros), with its honest
    /// output and certificate.
    static func product(format: WeightFormat = .q4_1, seed: UInt64 = 5, activationSpread: Int = 6,
                        _ body: (ProductClaim) throws -> Void) rethrows {
        var ops = RandomOperands(seed: seed)
        let rows = 70, columns = 96, tokens = 9
        let bytes = ops.weightBytes(format, rows: rows, columns: columns, spread: 8)
        let xs = ops.activations(rows: tokens, columns: columns, spread: activationSpread)
        let x = xs.withUnsafeBufferPointer { QuantizedActivations($0, rows: tokens, columns: columns) }
        try withWeightMatrix(bytes, format: format, rows: rows, columns: columns) { w in
            var y = [Float](repeating: 0, count: rows * tokens)
            y.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(w, x, into: $0) }
            try body(ProductClaim(weights: w, activations: x, output: y, certificate: ExactProducts.compute(w, x)))
        }
    }

    static func challenges(_ n: Int, seed: UInt64, rounds: Int = 1) -> [[M127]] {
        var g = SplitMix64(seed: seed)
        return (0 ..< rounds).map { _ in (0 ..< n).map { _ in M127(p.randomElement(using: &g)) } }
    }

    func testHonestProductsPassInEveryFormatWithBothArithmetics() {
        for format in WeightFormat.allCases {
            Self.product(format: format) { claim in
                for arithmetic in FieldArithmetic.allCases {
                    let r = Freivalds.check([claim, claim], challenges: Self.challenges(claim.weights.rows, seed: 1, rounds: 2), arithmetic: arithmetic)
                    XCTAssertEqual(r.count, 2)
                    XCTAssertNil(r[0].failure, "\(format) \(arithmetic): \(r[0].failure!)")
                    XCTAssertNil(r[1].failure)
                    XCTAssertGreaterThan(r[0].fieldOperations, r[1].fieldOperations, "rᵀW is computed once per round for the matrix")
                    XCTAssertEqual(r[0].tokensRecomputed, 0)
                }
            }
        }
    }

    func testNativeAndGMPFieldComputationsAgree() {
        for format in WeightFormat.allCases {
            Self.product(format: format, seed: 9) { claim in
                let r = Self.challenges(claim.weights.rows, seed: 4)[0]
                let u = Freivalds.leftCombination(claim.weights, r, .native)
                XCTAssertEqual(u, Freivalds.leftCombination(claim.weights, r, .gmp))
                XCTAssertEqual(Freivalds.applyActivations(u, claim.activations, .native), Freivalds.applyActivations(u, claim.activations, .gmp))
                let skip = [UInt8](repeating: 0, count: claim.activations.rows)
                let lhs = Freivalds.combineCertificate(r, claim.certificate, skip: skip, .native)
                XCTAssertEqual(lhs, Freivalds.combineCertificate(r, claim.certificate, skip: skip, .gmp))
                XCTAssertEqual(lhs, Freivalds.applyActivations(u, claim.activations, .native), "rᵀφ(Z) = (rᵀφ(W))·φ(X) for the honest Z")
            }
        }
    }

    /// A wrong certificate entry (moved by a random multiple of the row's grid, the output
    /// rounded from it so that output and certificate agree) is rejected by the Freivalds check
    /// under every one of 200 challenge seeds; an entry moved without changing its output too.
    func testWrongCertificatesAreRejectedUnderEverySeed() {
        Self.product { claim in
            let w = claim.weights, x = claim.activations, n = w.rows
            let bounds = Freivalds.WeightBounds(w)
            var g = SplitMix64(seed: 77)
            var rejected = 0, trials = 0
            for seed in 0 ..< 200 {
                let t = 1 + Int(g.next() % UInt64(x.rows - 1)), j = Int(g.next() % UInt64(n))
                guard let range = Freivalds.range(x, token: t, bounds: bounds) else { continue }
                var z = claim.certificate, y = claim.output
                let honest = z[token: t, output: j]!
                // δ = ±k·2^f, k odd below 2^20, f between the grid and 30 octaves above it.
                let f = range.low + Int(g.next() % 30)
                let k = (Int128(g.next() % (1 << 20)) | 1) * (g.next() % 2 == 0 ? 1 : -1)
                let base = honest.isZero ? f : min(honest.exponent, f)
                let wrong = Dyadic(significand: (honest.significand << Int128(honest.exponent - base)) + (k << Int128(f - base)), exponent: base)
                guard let hb = wrong.magnitudeBound, hb <= range.high else { continue }
                z[token: t, output: j] = wrong
                if seed % 3 != 0 { y[t * n + j] = wrong.roundedToBinary32 }   // else: the output is left as it was
                let lie = ProductClaim(weights: w, activations: x, output: y, certificate: z)
                let outcome = Freivalds.check([lie], challenges: Self.challenges(n, seed: UInt64(seed)))[0]
                trials += 1
                guard let failure = outcome.failure else { XCTFail("seed \(seed): a wrong certificate passed"); continue }
                if failure.kind == .freivalds { rejected += 1; XCTAssertEqual(failure.token, t) }
                else { XCTAssertEqual(failure.kind, .rounding, "seed \(seed): \(failure)") }   // the old output no longer matches
            }
            XCTAssertGreaterThan(trials, 150)
            XCTAssertGreaterThan(rejected, 100, "most trials must be caught by the field check itself")
            print("freivalds: \(rejected) of \(trials) wrong certificates rejected by the field check, the rest by the rounding check")
        }
    }

    /// The three kinds of `ProductFault` are caught by the check meant for them.
    func testEachLieIsCaughtByItsCheck() {
        Self.product { claim in
            let n = claim.weights.rows
            for (kind, expected) in [(ProductFault.Kind.consistent, ProductCheckKind.freivalds), (.output, .rounding), (.fieldAlias, .certificateRange)] {
                for (t, j) in [(1, 0), (4, 33), (8, 69)] {
                    var z = claim.certificate, y = claim.output
                    let (entry, out) = ProductFault(call: 0, token: t, output: j, kind: kind).apply(to: z[token: t, output: j]!)
                    z[token: t, output: j] = entry
                    y[t * n + j] = out
                    let lie = ProductClaim(weights: claim.weights, activations: claim.activations, output: y, certificate: z)
                    let outcome = Freivalds.check([lie], challenges: Self.challenges(n, seed: 5))[0]
                    XCTAssertEqual(outcome.failure?.kind, expected, "\(kind) at (\(t), \(j)): \(String(describing: outcome.failure))")
                    XCTAssertEqual(outcome.failure?.token, t)
                    if kind == .fieldAlias {
                        // φ cannot see this lie: without the range condition the field check would pass.
                        let r = Self.challenges(n, seed: 5)[0], skip = [UInt8](repeating: 0, count: claim.activations.rows)
                        XCTAssertEqual(Freivalds.combineCertificate(r, z, skip: skip, .native),
                                       Freivalds.applyActivations(Freivalds.leftCombination(claim.weights, r, .native), claim.activations, .native))
                    }
                }
            }
            // An all-zero activation row must give +0 outputs.
            var y = claim.output
            y[3] = -0.0
            let lie = ProductClaim(weights: claim.weights, activations: claim.activations, output: y, certificate: claim.certificate)
            XCTAssertEqual(Freivalds.check([lie], challenges: Self.challenges(n, seed: 5))[0].failure?.kind, .rounding)
        }
    }

    /// A row whose exact values may span more than the field can tell apart is checked by
    /// direct recomputation instead: honest outputs pass, a wrong one is caught there.
    func testWideRowsAreRecomputed() {
        var ops = RandomOperands(seed: 1)
        let rows = 20, columns = 64
        let bytes = ops.weightBytes(.q8_0, rows: rows, columns: columns, spread: 20)
        var xs = ops.activations(rows: 2, columns: columns, spread: 4)
        xs[columns] = 0x1p100; xs[columns + 40] = 0x1p-120   // row 1: blocks 220 octaves apart
        let x = xs.withUnsafeBufferPointer { QuantizedActivations($0, rows: 2, columns: columns) }
        withWeightMatrix(bytes, format: .q8_0, rows: rows, columns: columns) { w in
            var y = [Float](repeating: 0, count: rows * 2)
            y.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(w, x, into: $0) }
            let z = ExactProducts.compute(w, x)
            let honest = Freivalds.check([ProductClaim(weights: w, activations: x, output: y, certificate: z)], challenges: Self.challenges(rows, seed: 2))[0]
            XCTAssertNil(honest.failure)
            XCTAssertEqual(honest.tokensRecomputed, 1)
            y[rows + 7] = y[rows + 7].nextUp
            let bad = Freivalds.check([ProductClaim(weights: w, activations: x, output: y, certificate: z)], challenges: Self.challenges(rows, seed: 2))[0]
            XCTAssertEqual(bad.failure?.kind, .recomputation)
            XCTAssertEqual(bad.failure?.output, 7)
        }
    }
}
