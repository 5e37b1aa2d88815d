import LockstepCore
import LockstepModel

/// Generators of the op vector files for the exact (heavy) operations: activation quantisation,
/// the three block products, the exact accumulator and attention.
extension OpVectors {
    // MARK: Activation quantisation (SPEC §2.1)

    static func quantize() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "activation-quantization", spec: "Papers/SPEC.md §2.1",
            header: ["Quantisation of binary32 activations to 16-bit integers with one power-of-two exponent per block of 32.",
                     "Backend op: quantize. Outputs per row and block: 32 integers q, the exponent E and the sum S."],
            notes: [("Saturation", "roundHalfEven(x·2^-E) is ±32768 (or the input is ±infinity) and is clamped to ±32767."),
                    ("ZeroBlock", "The block has no finite non-zero value, so E = 0."),
                    ("ExtremeExponent", "The block exponent is at or near an end of its range [-163, 113]."),
                    ("ShortRow", "The row length is not a multiple of 32: the last block is padded with zeros."),
                    ("MultiRow", "Several rows: blocks never cross rows."),
                    ("NearTie", "Values one ulp either side of a rounding midpoint.")])
        func one(_ comment: String, _ flags: [String], _ x: [Float], rows: Int = 1, columns: Int? = nil) {
            let c = columns ?? x.count
            b.group("QuantizeTest", [("rows", J.int(rows)), ("columns", J.int(c))])
            b.test(comment, flags, [("x", J.f32(x, shape: [rows, c]))])
        }
        let two13 = Float.exact(1, -13)
        one("SPEC B.1: M = 3, E = -13; 1.5 and 2.5 (scaled) tie to 2", ["SpecExample", "RoundingTie"],
            padded([1.0, 0.3, -2.5, 0.125, 3.0, -0.7, 1.5 * two13, 2.5 * two13]))
        one("E = 0: halves round to even", ["RoundingTie"],
            padded([16384, 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 100.5, 101.5, 16383.5, -16382.5, 7.5, -8.5]))
        one("E = 0: one ulp either side of the midpoints", ["NearTie"],
            padded([16384, Float(0.5).nextUp, Float(0.5).nextDown, Float(2.5).nextUp, Float(2.5).nextDown,
                    Float(-1.5).nextUp, Float(-1.5).nextDown, Float(16383.5).nextUp, Float(16383.5).nextDown]))
        one("M = 1.99999: 32767.84 rounds to 32768, clamped to 32767", ["Saturation"], padded([1.99999, -1.0, 0.5, 1.0]))
        one("M = -1.99999: clamped to -32767", ["Saturation"], padded([-1.99999, 1.0, -0.25]))
        one("65535·2^-1 = 32767.5 ties to 32768, clamped to 32767", ["Saturation", "RoundingTie"], padded([65535, 1, -65535, 65533]))
        one("65533·2^-1 = 32766.5 ties to 32766", ["RoundingTie"], padded([65533, 65531, -65533, 3]))
        one("all zeros: E = 0", ["ZeroBlock"], [Float](repeating: 0, count: 32))
        one("all negative zeros: E = 0, q = 0", ["ZeroBlock", "SignedZero"], [Float](repeating: -0.0, count: 32))
        one("negative zeros among values give 0", ["SignedZero"], padded([-0.0, 0.0, 1.0, -0.0, -1.0]))
        one("NaN gives 0, ±inf give ±32767; M over the finite values only", ["NonFinite", "Saturation"],
            padded([.nan, .infinity, -.infinity, 1.0, -3.0, 2.9, .bits(0xFFC0_0001)]))
        one("no finite non-zero value: E = 0, infinities saturate", ["NonFinite", "ZeroBlock", "Saturation"],
            padded([.nan, .infinity, -.infinity, .bits(0xFFC0_0000), .bits(0x7F80_0001), 0]))
        one("a lone +inf among zeros", ["NonFinite", "ZeroBlock", "Saturation"], padded([0, .infinity, 0, -0.0]))
        one("subnormals only: M = 3·2^-149, E = -162", ["Subnormal", "ExtremeExponent"],
            padded([.bits(1), .bits(2), .bits(3), .bits(0x8000_0001)]))
        one("the smallest subnormal alone: E = -163", ["Subnormal", "ExtremeExponent"], padded([.bits(1)]))
        one("the largest subnormal: E = -141, saturates", ["Subnormal", "Saturation"], padded([.bits(0x007F_FFFF), .bits(1), .bits(0x0040_0000)]))
        one("smallest normal with subnormals: E = -140", ["Subnormal", "RoundingTie"],
            padded([.bits(0x0080_0000), .bits(0x0040_0000), .bits(1), .bits(0x0000_0400), .bits(0x0000_0600), .bits(0x8000_0200)]))
        one("the largest binary32: E = 113, saturates", ["ExtremeExponent", "Saturation"],
            padded([.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .exact(1, 127), 1.0, .exact(3, 112)]))
        one("wide magnitudes in one block: small values round to zero", ["RoundingTie"],
            padded([1e30, 1e-30, -1e20, 7.999e25, .exact(1, 85), .exact(-3, 85), .exact(1, 86)]))
        one("a single value", [], [2.5], columns: 1)
        one("a single NaN", ["NonFinite", "ZeroBlock", "ShortRow"], [.nan], columns: 1)
        one("five values", ["ShortRow"], [0.1, -0.2, 0.3, -0.4, 0.5], columns: 5)
        var r = SeededGenerator(seed: 0x5155_414E_5449_5A45)   // "QUANTIZE"
        for columns in [31, 33, 40, 63] {
            one("\(columns) random values", ["ShortRow", "Random"], (0..<columns).map { _ in r.uniform() * 10 }, columns: columns)
        }
        do {
            // Three rows of 70: zeros, small values, then a row with a different scale per block.
            var x = [Float](repeating: 0, count: 3 * 70)
            for i in 70..<140 { x[i] = r.uniform() * 0.01 }
            for i in 140..<210 { x[i] = r.uniform() * Float.exact(1, 10 * ((i - 140) / 32) - 10) }
            one("three rows of 70: blocks never cross rows", ["MultiRow", "ShortRow", "ZeroBlock", "Random"], x, rows: 3, columns: 70)
        }
        one("two rows, the second with +inf", ["MultiRow", "NonFinite", "Saturation"],
            padded([1, 2, 3], to: 32) + padded([.infinity, 0.5, -0.25], to: 32), rows: 2, columns: 32)
        one("four rows of 128 uniform values", ["MultiRow", "Random"], (0..<512).map { _ in r.uniform() * 4 }, rows: 4, columns: 128)
        one("two rows of 96, exponents spread over the binary32 range", ["MultiRow", "Random", "Saturation", "ExtremeExponent"],
            (0..<192).map { _ in r.float(exponents: -126...127) }, rows: 2, columns: 96)
        do {
            // Each block: one value 2^14·2^E and values (k + 1/2)·2^E: every non-maximal value is a tie.
            var x: [Float] = []
            for blk in 0..<8 {
                let e = blk == 0 ? -148 : r.int(-148...100)
                for j in 0..<32 {
                    let k = j == 0 ? 16384 * 2 : 2 * r.int(0...16382) + 1   // twice the scaled value
                    let v = Float(sign: r.next() & 1 == 0 ? .plus : .minus, exponent: e - 1, significand: Float(k))
                    x.append(blk == 0 && j == 5 ? 0 : v)
                }
            }
            one("eight blocks of ties at random exponents", ["RoundingTie", "Random", "Subnormal"], x, columns: 256)
        }
        return b.build()
    }

    // MARK: Block products (SPEC §2.2, §2.3)

    /// One block of `format` with scale `d` (fp16 bits), offset `m` (Q4_1) and integers `ints`:
    /// Q8_0 `c_j` (int8), Q4_0 / Q4_1 nibbles `n_j` (0...15).
    static func block(_ format: WeightFormat, d: UInt16, m: UInt16 = 0, _ ints: [Int]) -> [UInt8] {
        precondition(ints.count == 32)
        var out = LittleEndian.bytes([d])
        switch format {
        case .q8_0: out += ints.map { UInt8(bitPattern: Int8($0)) }
        case .q4_0, .q4_1:
            if format == .q4_1 { out += LittleEndian.bytes([m]) }
            for j in 0..<16 { out.append(UInt8(ints[j]) | UInt8(ints[j + 16]) << 4) }
        }
        return out
    }

    /// A weight row whose exact values are `d · weights[j]` (`weights` small integers: Q8_0
    /// -128...127, Q4_0 -8...7, Q4_1 0...15 with zero offset).
    static func row(_ format: WeightFormat, d: UInt16 = 0x3C00, _ weights: [Int]) -> [UInt8] {
        precondition(weights.count % 32 == 0)
        var out: [UInt8] = []
        for start in stride(from: 0, to: weights.count, by: 32) {
            let w = Array(weights[start ..< start + 32])
            switch format {
            case .q8_0: out += block(format, d: d, w)
            case .q4_0: out += block(format, d: d, w.map { $0 + 8 })
            case .q4_1: out += block(format, d: d, m: 0, w)
            }
        }
        return out
    }

    /// `count` zeros with `values` at the given indices.
    static func sparse(_ count: Int, _ values: [Int: Int]) -> [Int] {
        var out = [Int](repeating: 0, count: count)
        for (i, v) in values { out[i] = v }
        return out
    }

    static func matmul(_ format: WeightFormat) -> VectorFile {
        let name = format.rawValue
        var b = OpFileBuilder(
            algorithm: "exact-matmul-\(name)", spec: "Papers/SPEC.md §2.1, §2.2, §2.3",
            header: ["Exact product of a \(name) weight matrix (rows × columns, GGUF block bytes) with binary32 activations",
                     "(tokens × columns) that are first quantised by SPEC §2.1; each output is the exact sum rounded once to binary32.",
                     "Backend op: matmul(\(name)). Output y[t·rows + n]."],
            notes: [("Overflow", "The exact sum is at least 2^128 - 2^103 in magnitude: the result is ±infinity."),
                    ("StickyBit", "Bits far below the rounding position break a tie."),
                    ("Underflow", "The exact sum is non-zero but below the binary32 subnormal range, or rounds within it."),
                    ("ExactZero", "The exact sum is zero: the result is +0."),
                    ("Cancellation", "Large terms cancel exactly."),
                    ("SubnormalScale", "Block scales (or Q4_1 offsets) are fp16 subnormals."),
                    ("NegativeScale", "Block scales (or Q4_1 offsets) are negative."),
                    ("ExtremeScale", "Block scales at the ends of the fp16 range (65504, 2^-24)."),
                    ("ExtremeExponent", "Activation block exponents at the ends of their range."),
                    ("Saturation", "An activation saturates to ±32767 in quantisation."),
                    ("Offset", "Only the Q4_1 offset term m·S contributes."),
                    ("Int8Min", "Q8_0 integers of -128 (stored, allowed)."),
                    ("Batch", "Eight or more activation rows (the blas backend's GEMM path)."),
                    ("MultiBlock", "Several blocks per row with different activation exponents.")])
        func test(_ comment: String, _ flags: [String], rows: Int, columns: Int, weights: [UInt8], x: [Float]) {
            let tokens = x.count / columns
            b.group("MatmulTest", [("format", J.string(name)), ("rows", J.int(rows)), ("columns", J.int(columns)), ("tokens", J.int(tokens))])
            b.test(comment, flags, [("w", J.weights(format, rows: rows, columns: columns, weights)), ("x", J.f32(x, shape: [tokens, columns]))])
        }
        // Worked examples.
        let b1 = padded([1.0, 0.3, -2.5, 0.125, 3.0, -0.7, 1.5 * Float.exact(1, -13), 2.5 * Float.exact(1, -13)])
        if format == .q8_0 {
            test("SPEC B.2: one Q8_0 block against B.1's activations: 0xC217B164", ["SpecExample"], rows: 1, columns: 32,
                 weights: block(.q8_0, d: 0x2E66, [10, -3, 7, 127, -128, 4, 1, -1] + [Int](repeating: 5, count: 24)), x: b1)
        }
        if format == .q4_1 {
            test("SPEC B.3: Q4_1 nibble order and offset term: 0x3F1CCC64", ["SpecExample", "Offset"], rows: 1, columns: 32,
                 weights: block(.q4_1, d: 0x2E66, m: 0xB800, [Int](repeating: 10, count: 16) + [Int](repeating: 3, count: 16)), x: b1)
        }
        // Final rounding: ties, sticky bits (weights 1 at 0, 32, 64).
        let unit3 = row(format, sparse(96, [0: 1, 32: 1, 64: 1]))
        func x96(_ a: Float, _ c: Float, _ e: Float = 0) -> [Float] { padded([a], to: 32) + padded([c], to: 32) + padded([e], to: 32) }
        test("2^24 + 1 ties to 2^24; 2^24 + 3 ties to 2^24 + 4; a sticky 2^-20 rounds up; negated", ["RoundingTie", "StickyBit", "MultiBlock"],
             rows: 1, columns: 96, weights: unit3,
             x: x96(.exact(1, 24), 1) + x96(.exact(1, 24), 3) + x96(.exact(1, 24), 1, .exact(1, -20)) + x96(-.exact(1, 24), -1))
        let maxParts = (Float.exact(32767, 113), Float.exact(511, 104))
        test("2^128 - 2^104 is the largest binary32; + 2^103 ties to 2^128: +inf; + (2^103 - 2^79) saturates and stays finite; negated: -inf",
             ["Overflow", "RoundingTie", "Saturation", "MultiBlock", "ExtremeExponent"], rows: 1, columns: 96, weights: unit3,
             x: x96(maxParts.0, maxParts.1) + x96(maxParts.0, maxParts.1, .exact(1, 103))
                + x96(maxParts.0, maxParts.1, .exact(16_777_215, 79)) + x96(-maxParts.0, -maxParts.1, -.exact(1, 103)))
        // Far overflow with the largest weights, and its exact cancellation.
        let big: [UInt8], bigNeg: [UInt8]
        switch format {
        case .q8_0: big = block(format, d: 0x7BFF, [Int](repeating: 127, count: 32)); bigNeg = block(format, d: 0xFBFF, [Int](repeating: 127, count: 32))
        case .q4_0: big = block(format, d: 0x7BFF, [Int](repeating: 15, count: 32)); bigNeg = block(format, d: 0xFBFF, [Int](repeating: 15, count: 32))
        case .q4_1: big = block(format, d: 0x7BFF, m: 0x7BFF, [Int](repeating: 15, count: 32)); bigNeg = block(format, d: 0xFBFF, m: 0xFBFF, [Int](repeating: 15, count: 32))
        }
        let fmax = Float.greatestFiniteMagnitude
        test("largest scales against the largest activations: ±inf; half positive, half negative: exactly +0",
             ["Overflow", "ExtremeScale", "NegativeScale", "ExactZero", "Cancellation", "Saturation", "ExtremeExponent"],
             rows: 2, columns: 32, weights: big + bigNeg,
             x: [Float](repeating: fmax, count: 32) + [Float](repeating: -fmax, count: 32)
                + [Float](repeating: fmax, count: 16) + [Float](repeating: -fmax, count: 16))
        // Subnormal results with the smallest scale 2^-24.
        let tiny = row(format, d: 0x0001, sparse(64, [0: 3])) + row(format, d: 0x0001, sparse(64, [0: 1]))
            + row(format, d: 0x0001, sparse(64, [0: 1, 32: 1]))
        let m126 = Float.exact(1, -126), sub1 = Float.bits(1)
        test("scale 2^-24: 3·2^-150 ties to 2^-148, 2^-150 ties to +0 (or -0 when negative), 2^-150 + 2^-164 rounds to 2^-149, 2^-173 underflows",
             ["Subnormal", "Underflow", "SignedZero", "RoundingTie", "SubnormalScale", "ExtremeScale", "ExtremeExponent", "ExactZero"],
             rows: 3, columns: 64, weights: tiny,
             x: padded([m126], to: 32) + padded([], to: 32)
                + padded([-m126], to: 32) + padded([], to: 32)
                + padded([m126], to: 32) + padded([.exact(1, -140)], to: 32)
                + padded([sub1], to: 32) + padded([-sub1], to: 32))
        // Exact zeros.
        let zeroRows: [UInt8]
        switch format {
        case .q4_1: zeroRows = row(format, sparse(64, [0: 1, 1: 1, 32: 1, 33: 1])) + block(format, d: 0x8000, m: 0x8000, [Int](repeating: 1, count: 32)) + block(format, d: 0x8000, m: 0x8000, [Int](repeating: 1, count: 32))
        default: zeroRows = row(format, sparse(64, [0: 1, 1: 1, 32: 1, 33: 1])) + row(format, d: 0x8000, [Int](repeating: 1, count: 64))
        }
        test("exact cancellation within and across blocks gives +0; a -0 scale gives +0", ["ExactZero", "Cancellation", "SignedZero", "MultiBlock"],
             rows: 2, columns: 64, weights: zeroRows,
             x: padded([1.5, -1.5], to: 64) + padded([3072], to: 32) + padded([-2048, -1024], to: 32) + [Float](repeating: 1, count: 64))
        // A sweep of block scales.
        var r = SeededGenerator(seed: 0x4D41_544D_554C_0000 | UInt64(format.blockBytes))
        let scales: [UInt16] = [0x0001, 0x0002, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0x8001, 0x83FF, 0xBC00, 0xFBFF]
        func randomInts() -> [Int] { (0..<32).map { _ in format == .q8_0 ? r.int(-128...127) : r.int(0...15) } }
        var sweep: [UInt8] = []
        for d in scales { sweep += block(format, d: d, m: format == .q4_1 ? r.half(fields: 0...20) : 0, randomInts()) }
        test("scales 2^-24, 2^-23, largest subnormal, smallest normal, 1, 65504 and negatives", ["SubnormalScale", "NegativeScale", "ExtremeScale", "Random"],
             rows: scales.count, columns: 32, weights: sweep, x: (0..<64).map { _ in r.float(exponents: -20...20) })
        if format == .q4_1 {
            var offsets: [UInt8] = []
            for m: UInt16 in [0x0001, 0x83FF, 0xB800, 0x7BFF, 0x3C00] { offsets += block(format, d: 0, m: m, randomInts()) }
            var pairs: [Float] = []
            for _ in 0..<16 { let v = r.float(exponents: -4...4); pairs += [v, -v] }
            test("zero scale: only the offset term m·S; a block sum of zero gives +0", ["Offset", "SubnormalScale", "NegativeScale", "ExactZero", "Random"],
                 rows: 5, columns: 32, weights: offsets, x: (0..<32).map { _ in r.float(exponents: -10...10) } + pairs)
            test("offset -1 cancels the scale term d·1: every weight is exactly 0", ["ExactZero", "Cancellation", "NegativeScale"],
                 rows: 1, columns: 32, weights: block(format, d: 0x3C00, m: 0xBC00, [Int](repeating: 1, count: 32)),
                 x: (0..<32).map { _ in r.float(exponents: -10...10) })
        }
        if format == .q8_0 {
            test("integers of -128 in every position", ["Int8Min"], rows: 2, columns: 32,
                 weights: block(format, d: 0x3C00, [Int](repeating: -128, count: 32)) + block(format, d: 0x1400, (0..<32).map { $0 % 2 == 0 ? -128 : 127 }),
                 x: (0..<32).map { _ in r.float(exponents: -3...3) })
        }
        // Random matrices: (rows, columns, tokens, scale exponent fields, activation exponents).
        let shapes: [(Int, Int, Int, ClosedRange<Int>, ClosedRange<Int>)] = [
            (4, 32, 1, 10...20, -2...2), (16, 96, 3, 0...30, -30...30), (6, 256, 9, 5...25, -60...60),
            (3, 64, 8, 0...30, -126...127), (33, 32, 8, 12...16, -8...8), (5, 160, 2, 1...29, -100...100),
        ]
        for (rows, columns, tokens, fields, exps) in shapes {
            var w: [UInt8] = []
            for _ in 0 ..< rows * columns / 32 {
                w += block(format, d: r.half(fields: fields), m: format == .q4_1 ? r.half(fields: fields) : 0, randomInts())
            }
            var x = (0 ..< tokens * columns).map { _ in r.float(exponents: exps) }
            if tokens > 2 { for i in 0..<columns { x[columns + i] = 0 } }   // one all-zero row
            var flags = ["Random", "MultiBlock"]
            if tokens >= 8 { flags.append("Batch") }
            if fields.lowerBound == 0 { flags += ["SubnormalScale"] }
            test("random \(rows)×\(columns) weights, \(tokens) token(s), scale exponent fields \(fields.lowerBound)...\(fields.upperBound), activation exponents \(exps.lowerBound)...\(exps.upperBound)",
                 flags, rows: rows, columns: columns, weights: w, x: x)
        }
        return b.build()
    }

    // MARK: The exact accumulator (SPEC §2.3)

    static func accumulator() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "exact-accumulator", spec: "Papers/SPEC.md §2.3 (\"The rounding fl32\", \"One valid method: the superaccumulator\")",
            header: ["The exact sum of terms value·2^exponent (|value| < 2^62, -416 ≤ exponent ≤ 352), rounded once to binary32.",
                     "Library check: the result must not depend on the order of the terms (runners may also add them in reverse, or in two merged halves)."],
            notes: [("Overflow", "The exact sum rounds to ±infinity."),
                    ("StickyBit", "Bits far below the rounding position decide the rounding."),
                    ("ExactZero", "The terms cancel exactly: +0."),
                    ("Underflow", "A non-zero sum that rounds to a zero or a subnormal."),
                    ("Carry", "Many terms carry across the accumulator's 32-bit limbs."),
                    ("Cancellation", "Large terms cancel exactly."),
                    ("ExtremeExponent", "Terms at the ends of the exponent range.")])
        func test(_ comment: String, _ flags: [String], _ terms: [(Int64, Int32)]) {
            b.group("AccumulatorTest")
            b.test(comment, flags, [("values", J.i64(terms.map(\.0))), ("exponents", J.i32(terms.map(\.1)))])
        }
        let max62: Int64 = (1 << 62) - 1
        test("no terms: +0", ["ExactZero"], [])
        test("one term: 1", [], [(1, 0)])
        test("2^24 + 1 ties to 2^24", ["RoundingTie"], [(1 << 24, 0), (1, 0)])
        test("2^24 + 3 ties to 2^24 + 4", ["RoundingTie"], [(1 << 24, 0), (3, 0)])
        test("-(2^24 + 1) ties to -2^24", ["RoundingTie"], [(-(1 << 24), 0), (-1, 0)])
        test("2^24 + 1 + 2^-300 rounds up", ["StickyBit"], [(1 << 24, 0), (1, 0), (1, -300)])
        test("2^24 + 1 - 2^-416 rounds down", ["StickyBit", "ExtremeExponent"], [(1 << 24, 0), (1, 0), (-1, -416)])
        test("a 62-bit value: 24 bits kept, the rest sticky", ["StickyBit"], [(max62, 0)])
        test("x - x = +0", ["ExactZero"], [(max62, 100), (-max62, 100)])
        test("huge terms cancel, leaving 2^-416: rounds to +0", ["Underflow", "ExtremeExponent"], [(max62, 352), (1, -416), (-max62, 352)])
        test("huge terms cancel, leaving -2^-416: rounds to -0", ["Underflow", "SignedZero", "ExtremeExponent"], [(max62, 352), (-1, -416), (-max62, 352)])
        test("2^-149: the smallest subnormal", ["Subnormal"], [(1, -149)])
        test("2^-150 ties to +0", ["Subnormal", "RoundingTie", "Underflow"], [(1, -150)])
        test("3·2^-150 ties to 2^-148", ["Subnormal", "RoundingTie"], [(3, -150)])
        test("2^-150 + 2^-400 rounds to 2^-149", ["Subnormal", "StickyBit"], [(1, -150), (1, -400)])
        test("-(2^-150) ties to -0", ["Subnormal", "SignedZero", "Underflow"], [(-1, -150)])
        test("2^-126 - 2^-150 ties to 2^-126 (normal, even)", ["Subnormal", "RoundingTie"], [(1, -126), (-1, -150)])
        test("the largest subnormal (2^23 - 1)·2^-149 plus 2^-149 is the smallest normal 2^-126", ["Subnormal"], [((1 << 23) - 1, -149), (1, -149)])
        test("the largest binary32", [], [((1 << 24) - 1, 104)])
        test("the largest binary32 + 2^103 ties to +inf", ["Overflow", "RoundingTie"], [((1 << 24) - 1, 104), (1, 103)])
        test("the largest binary32 + 2^103 - 2^-416 stays finite", ["StickyBit", "ExtremeExponent"], [((1 << 24) - 1, 104), (1, 103), (-1, -416)])
        test("-2^128: -inf", ["Overflow"], [(-1, 128)])
        test("the largest term: 2^62·2^352 is +inf", ["Overflow", "ExtremeExponent"], [(max62, 352)])
        test("negative values split across limbs (lo and hi parts)", ["Carry"], [(-1, -3), (-(1 << 33), 17), (-0x1_2345_6789, 31), (0x3FFF_FFFF_FFFF_FFFF, -40)])
        test("4096 terms of 2^32 - 1 at one exponent carry into higher limbs", ["Carry"], [(Int64, Int32)](repeating: (0xFFFF_FFFF, -5), count: 4096))
        let alternating: [(Int64, Int32)] = (0..<64).map { (i: Int) -> (Int64, Int32) in
            let v: Int64 = i % 2 == 0 ? max62 : Int64(i) - max62
            return (v, Int32(i - 32))
        }
        test("alternating signs at every shift within a limb", ["Carry"], alternating)
        var r = SeededGenerator(seed: 0x4143_4355_4D55_4C41)
        for (count, spread) in [(10, 0...0), (100, -20...20), (1000, -60...60), (300, -416...290)] {
            let terms: [(Int64, Int32)] = (0..<count).map { _ -> (Int64, Int32) in
                let shift = Int64(r.int(2...60))
                let v = Int64(bitPattern: r.next()) >> shift
                return (v, Int32(r.int(spread)))
            }
            test("\(count) random terms, exponents \(spread.lowerBound)...\(spread.upperBound)", ["Random"], terms)
        }
        do {
            // Terms that nearly cancel: the result depends on every bit.
            var terms: [(Int64, Int32)] = []
            for _ in 0..<50 {
                let v = Int64(bitPattern: r.next()) >> 3, e = Int32(r.int(-100...100))
                terms += [(v, e), (-v, e)]
            }
            terms.append((Int64(r.int(1...1000)), -200))
            test("100 terms that cancel in pairs, leaving a small remainder", ["Random", "Cancellation"], terms)
        }
        return b.build()
    }

    // MARK: Attention (SPEC §2.6, §3.5)

    static func attention() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "attention", spec: "Papers/SPEC.md §2.6, §3.5",
            header: ["Causal attention of query rows against a KV cache: keys and values (binary32, after RoPE) are quantised per",
                     "position and KV head (§2.6); scores are the exact Q·K products rounded to binary32 times the scale 1/sqrt(headDim);",
                     "softmax (§3.5); the probabilities are quantised along the positions; the output is the exact P·V product.",
                     "Backend op: attention. 'scores' and 'probabilities' are diagnostics: per row t, head h and position p ≤ positions[t]."],
            notes: [("GroupedQuery", "Several query heads share one key/value head."),
                    ("PaddedHead", "The head dimension is not a multiple of 32: head vectors are zero-padded in quantisation."),
                    ("MultiBlockPositions", "More than 32 visible positions: the probabilities span several quantisation blocks."),
                    ("RoundedScale", "1/sqrt(headDim) is not a power of two (the scale multiplication rounds)."),
                    ("UniformScores", "Every score is equal."),
                    ("OneHot", "One score dominates: the other probabilities underflow to zero."),
                    ("NonFiniteScore", "A Q·K product overflows to ±infinity: softmax gives NaN, which quantises to 0 (SPEC A, N3)."),
                    ("MultiRow", "Several query rows at different positions in one call.")])
        var r = SeededGenerator(seed: 0x4154_5445_4E54_494F)
        func test(_ comment: String, _ flags: [String], heads: Int, kvHeads: Int, headDim: Int, length: Int, positions: [Int],
                  keys: [Float]? = nil, values: [Float]? = nil, queries: [Float]? = nil, scale: Float = 1) {
            b.group("AttentionTest", [("heads", J.int(heads)), ("kvHeads", J.int(kvHeads)), ("headDim", J.int(headDim))])
            let kv = length * kvHeads * headDim
            let k = keys ?? (0..<kv).map { _ in r.uniform() * scale }
            let v = values ?? (0..<kv).map { _ in r.uniform() }
            let q = queries ?? (0 ..< positions.count * heads * headDim).map { _ in r.uniform() * scale }
            b.test(comment, flags, [("keys", J.f32(k, shape: [length, kvHeads * headDim])),
                                    ("values", J.f32(v, shape: [length, kvHeads * headDim])),
                                    ("queries", J.f32(q, shape: [positions.count, heads * headDim])),
                                    ("positions", J.ints(positions))])
        }
        test("one position: the output is the quantised value", [], heads: 1, kvHeads: 1, headDim: 32, length: 1, positions: [0])
        test("grouped query 2:1, prefill of five positions", ["GroupedQuery", "MultiRow"], heads: 2, kvHeads: 1, headDim: 32, length: 5, positions: [0, 1, 2, 3, 4], scale: 3)
        test("head dimension 16 (padded), 4 heads on 2 KV heads, rows at positions 3 and 6", ["GroupedQuery", "PaddedHead", "MultiRow"],
             heads: 4, kvHeads: 2, headDim: 16, length: 7, positions: [3, 6], scale: 2)
        test("head dimension 40 (two blocks, padded; scale rounds), 40 positions", ["GroupedQuery", "PaddedHead", "RoundedScale", "MultiBlockPositions"],
             heads: 3, kvHeads: 1, headDim: 40, length: 40, positions: [39], scale: 2)
        test("head dimension 64, 70 positions (three probability blocks), rows at 0, 33 and 69", ["MultiBlockPositions", "MultiRow"],
             heads: 2, kvHeads: 2, headDim: 64, length: 70, positions: [0, 33, 69], scale: 2)
        test("head dimension 12 (padded, scale rounds), 6 heads on 3 KV heads", ["GroupedQuery", "PaddedHead", "RoundedScale", "MultiRow"],
             heads: 6, kvHeads: 3, headDim: 12, length: 9, positions: [5, 6, 7, 8])
        test("zero queries: uniform scores", ["UniformScores", "PaddedHead"], heads: 1, kvHeads: 1, headDim: 8, length: 6, positions: [5],
             queries: [Float](repeating: 0, count: 8))
        do {
            var keys = [Float](repeating: 0, count: 6 * 8)
            keys[3 * 8] = 1000
            test("one key aligned with a large query: one-hot probabilities", ["OneHot", "PaddedHead"], heads: 1, kvHeads: 1, headDim: 8, length: 6,
                 positions: [5], keys: keys, queries: padded([100], to: 8))
        }
        do {
            let big = Float.exact(1, 126)
            test("Q·K overflows to +inf: every probability is NaN and the output is +0", ["NonFiniteScore", "PaddedHead"],
                 heads: 1, kvHeads: 1, headDim: 8, length: 3, positions: [2],
                 keys: [Float](repeating: big, count: 24), queries: [Float](repeating: big, count: 8))
            test("Q·K overflows to -inf at every position: NaN probabilities, output +0", ["NonFiniteScore", "PaddedHead"],
                 heads: 1, kvHeads: 1, headDim: 8, length: 2, positions: [1],
                 keys: [Float](repeating: -big, count: 16), queries: [Float](repeating: big, count: 8))
        }
        test("four heads on two KV heads, twelve rows of prefill", ["GroupedQuery", "MultiRow"], heads: 4, kvHeads: 2, headDim: 32, length: 12,
             positions: Array(0..<12), scale: 4)
        return b.build()
    }
}
