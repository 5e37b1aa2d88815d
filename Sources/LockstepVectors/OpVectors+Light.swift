import LockstepCore
import LockstepModel

/// Generators of the op vector files for the ordered (light) operations.
extension OpVectors {
    // MARK: orderedSum (SPEC §3.1)

    static func orderedSum() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "ordered-sum", spec: "Papers/SPEC.md §3.1",
            header: ["The contract's binary32 reduction order: 32 lanes (term i into lane i mod 32, in increasing i), then the fixed",
                     "pairwise fold w = 16, 8, 4, 2, 1. Library check (used by RMSNorm and softmax)."],
            notes: [("OrderMatters", "A different summation order would give different bits."),
                    ("Empty", "No terms: +0.")])
        func test(_ comment: String, _ flags: [String], _ x: [Float]) {
            b.group("OrderedSumTest")
            b.test(comment, flags, [("x", J.f32(x))])
        }
        test("no terms", ["Empty"], [])
        test("one term", [], [0.1])
        test("negative zeros: lanes start at +0, so the sum is +0", ["SignedZero"], [-0.0, -0.0, -0.0])
        test("32 terms: one per lane", [], (0..<32).map { Float($0) * 0.1 })
        test("2^24 in lane 0, then 1s in lanes 1..31: folded pairwise, the 1s survive", ["OrderMatters"], [Float.exact(1, 24)] + [Float](repeating: 1, count: 31))
        test("2^24 and 32 ones in lane 0's sequence and elsewhere", ["OrderMatters", "RoundingTie"],
             [Float.exact(1, 24)] + [Float](repeating: 1, count: 64))
        test("+inf and -inf: NaN", ["NonFinite"], [.infinity, 1, -.infinity])
        test("a NaN propagates", ["NonFinite"], [1, .nan, 2])
        test("overflow to +inf in a lane", ["NonFinite"], [.greatestFiniteMagnitude] + [Float](repeating: 0, count: 31) + [.greatestFiniteMagnitude])
        test("subnormals add exactly", ["Subnormal"], (0..<40).map { _ in Float.bits(3) })
        var r = SeededGenerator(seed: 0x4F52_4445_5245_4453)
        for n in [31, 33, 64, 65, 100, 1000] {
            test("\(n) random terms of mixed magnitude", ["Random", "OrderMatters"], (0..<n).map { _ in r.float(exponents: -10...10) })
        }
        return b.build()
    }

    // MARK: RMSNorm (SPEC §3.2)

    static func rmsNorm() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "rms-norm", spec: "Papers/SPEC.md §3.1, §3.2",
            header: ["RMSNorm of each row: ss = orderedSum(x·x), r = 1 / sqrt(ss / n + eps), y = (x·r)·weight, all binary32.",
                     "Backend op: rmsNorm."],
            notes: [("ZeroRow", "An all-zero row: r = 1/sqrt(eps)."),
                    ("Overflow", "The sum of squares overflows to +inf, so r = 0."),
                    ("MultiRow", "Several rows normalised independently."),
                    ("OrderMatters", "The sum of squares depends on the contract's reduction order.")])
        var r = SeededGenerator(seed: 0x524D_534E_4F52_4D00)
        func test(_ comment: String, _ flags: [String], rows: Int, x: [Float], weight: [Float]? = nil, eps: Float = 1e-5) {
            let columns = x.count / rows
            b.group("RmsNormTest", [("rows", J.int(rows)), ("columns", J.int(columns))])
            let w = weight ?? (0..<columns).map { _ in 1 + 0.1 * r.uniform() }
            b.test(comment, flags, [("x", J.f32(x, shape: [rows, columns])), ("weight", J.f32(w)), ("epsilon", J.f32(eps))])
        }
        test("one element", [], rows: 1, x: [3.0], weight: [0.5])
        test("all zeros", ["ZeroRow"], rows: 1, x: [Float](repeating: 0, count: 32))
        test("all zeros, eps 1e-12", ["ZeroRow"], rows: 1, x: [Float](repeating: 0, count: 8), eps: 1e-12)
        test("32 values, unit weights", [], rows: 1, x: (0..<32).map { _ in r.uniform() }, weight: [Float](repeating: 1, count: 32))
        test("squares overflow: r = 0, y = 0 (or NaN for x = inf)", ["Overflow", "NonFinite"], rows: 1, x: [1e20, -1e20, 1, 0, .infinity])
        test("a NaN makes the row NaN", ["NonFinite"], rows: 1, x: [1, 2, .nan, 4])
        test("subnormal inputs: squares underflow", ["Subnormal"], rows: 1, x: [.bits(5), .bits(0x8000_0100), 1e-20, 0], eps: 1e-6)
        test("large and small values across lanes", ["OrderMatters"], rows: 1,
             x: [4096] + [Float](repeating: 1, count: 31) + [Float](repeating: 0.001, count: 40))
        test("negative and zero weights", ["SignedZero"], rows: 1, x: [1, -2, 3, -4], weight: [-1, 0, -0.0, 2])
        test("three rows of 64", ["MultiRow", "Random"], rows: 3, x: (0..<192).map { _ in r.float(exponents: -8...8) })
        test("two rows of 100 (not a multiple of 32), eps 1e-6", ["MultiRow", "Random", "OrderMatters"], rows: 2,
             x: (0..<200).map { _ in r.float(exponents: -20...20) }, eps: 1e-6)
        test("one row of 576 (the real model's width)", ["Random"], rows: 1, x: (0..<576).map { _ in r.uniform() * 3 })
        return b.build()
    }

    // MARK: RoPE (SPEC §3.4)

    static func rope() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "rope", spec: "Papers/SPEC.md §3.4, §3.7",
            header: ["RopeAnglesTest (library): inverse frequencies θ_i = exp64(-(2i/nRot)·log64(base)) and the binary32 cos/sin of pos·θ_i.",
                     "RopeTest (backend op rope): rotation of adjacent pairs of every head vector of each row at its position;",
                     "elements at index ≥ rotatedDimensions are unchanged."],
            notes: [("MaxPosition", "The largest position of the contract, 2^20 - 1."),
                    ("PartialRotation", "rotatedDimensions < headDim: the tail of each head is unchanged."),
                    ("RealModel", "The real model's parameters (base 100000, 64 rotated dimensions).")])
        let positions = [0, 1, 2, 7, 100, 2047, 65535, 1_048_575]
        for (base, nRot, flags) in [(Float(10000), 64, [String]()), (100000, 64, ["RealModel"]), (10000, 8, []), (500000, 128, []),
                                    (1e6, 16, []), (2, 2, [])] {
            b.group("RopeAnglesTest", [("rotatedDimensions", J.int(nRot)), ("base", J.f32(base))])
            b.test("base \(base), \(nRot) rotated dimensions", flags + ["MaxPosition"], [("positions", J.ints(positions))])
        }
        var r = SeededGenerator(seed: 0x524F_5045_0000_0001)
        func test(_ comment: String, _ flags: [String], heads: Int, headDim: Int, nRot: Int, base: Float, positions: [Int], x: [Float]? = nil) {
            let rows = positions.count
            b.group("RopeTest", [("rows", J.int(rows)), ("heads", J.int(heads)), ("headDim", J.int(headDim)),
                                 ("rotatedDimensions", J.int(nRot)), ("base", J.f32(base))])
            let v = x ?? (0 ..< rows * heads * headDim).map { _ in r.uniform() * 2 }
            b.test(comment, flags, [("x", J.f32(v, shape: [rows, heads * headDim])), ("positions", J.ints(positions))])
        }
        test("one head of 8 at position 5", [], heads: 1, headDim: 8, nRot: 8, base: 10000, positions: [5])
        test("position 0: cos 1, sin 0", ["SignedZero"], heads: 1, headDim: 8, nRot: 8, base: 10000, positions: [0],
             x: [1, -0.0, -0.0, 1, -2, 3, 0, 0])
        test("two heads of 16 at positions 0, 1 and the largest", ["MaxPosition"], heads: 2, headDim: 16, nRot: 16, base: 10000,
             positions: [0, 1, 1_048_575])
        test("8 of 12 dimensions rotated", ["PartialRotation"], heads: 3, headDim: 12, nRot: 8, base: 100000, positions: [3, 4])
        test("non-finite and subnormal elements", ["NonFinite", "Subnormal"], heads: 1, headDim: 8, nRot: 8, base: 10000, positions: [9],
             x: [.nan, 1, .infinity, 2, .bits(7), .bits(0x8000_0003), 1e30, -1e30])
        test("nine heads of 64 at four positions", ["RealModel", "Random"], heads: 9, headDim: 64, nRot: 64, base: 100000,
             positions: [0, 17, 500, 4095])
        return b.build()
    }

    // MARK: SwiGLU and the residual add (SPEC §3.3, §3.6)

    static func siluMul() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "silu-mul", spec: "Papers/SPEC.md §3.3, §3.7.3",
            header: ["SwiGLU element by element: out = (gate / (1 + exp32(-gate))) · up, binary32. Backend op: siluMul."],
            notes: [("ExpLimits", "exp32(-gate) overflows to +inf or underflows to +0."),
                    ("Overflow", "The product overflows.")])
        b.group("SiluMulTest")
        let gates: [Float] = [0, -0.0, 1, -1, 0.5, -0.5, 2, -2, 10, -10, 20, -20, 87, -87, 88, -88, 89, -89, 90, -90, 103, -103,
                              104, -104, 105, -105, 1e-30, -1e-30, .bits(1), .bits(0x8000_0001), .greatestFiniteMagnitude,
                              -.greatestFiniteMagnitude, .infinity, -.infinity, .nan]
        b.test("edge gates times 1", ["ExpLimits", "NonFinite", "Subnormal", "SignedZero"],
               [("gate", J.f32(gates)), ("up", J.f32([Float](repeating: 1, count: gates.count)))])
        b.test("edge gates times -3", ["ExpLimits", "NonFinite", "Subnormal", "SignedZero"],
               [("gate", J.f32(gates)), ("up", J.f32([Float](repeating: -3, count: gates.count)))])
        b.test("products that overflow, vanish or meet infinities", ["Overflow", "NonFinite", "SignedZero", "Subnormal"],
               [("gate", J.f32([1e20, 1e20, 5, -5, 0, 1, .infinity, 1e-30])),
                ("up", J.f32([1e20, -1e30, .infinity, .infinity, .infinity, .nan, 0, 1e-20]))])
        var r = SeededGenerator(seed: 0x5349_4C55_0000_0001)
        b.test("256 random pairs", ["Random"], [("gate", J.f32((0..<256).map { _ in r.float(exponents: -12...6) })),
                                                ("up", J.f32((0..<256).map { _ in r.float(exponents: -12...6) }))])
        b.test("gates across the exp32 range", ["Random", "ExpLimits"], [("gate", J.f32((0..<128).map { _ in r.float(in: -110, 110) })),
                                                                        ("up", J.f32((0..<128).map { _ in r.uniform() }))])
        return b.build()
    }

    static func add() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "add", spec: "Papers/SPEC.md §3.6",
            header: ["Residual add, element by element: x + y in binary32. Backend op: add (in place)."],
            notes: [("Overflow", "The sum overflows to ±infinity.")])
        b.group("AddTest")
        let one = Float(1), tiny = Float.exact(1, -24)
        b.test("ties, signed zeros, overflow, infinities, subnormals", ["RoundingTie", "SignedZero", "Overflow", "NonFinite", "Subnormal"],
               [("x", J.f32([one, one, one.nextUp, -0.0, -0.0, 0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, .infinity, .nan, .bits(1), .bits(0x007F_FFFF), 3])),
                ("y", J.f32([tiny, -tiny / 2, tiny, -0.0, 0, -0.0, Float.exact(1, 103), -Float.exact(1, 104), -.infinity, 1, 1, .bits(1), .bits(1), -3]))])
        var r = SeededGenerator(seed: 0x4144_4400_0000_0001)
        b.test("300 random pairs", ["Random"], [("x", J.f32((0..<300).map { _ in r.float(exponents: -30...30) })),
                                                ("y", J.f32((0..<300).map { _ in r.float(exponents: -30...30) }))])
        return b.build()
    }

    // MARK: Softmax (SPEC §3.5)

    static func softmax() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "softmax", spec: "Papers/SPEC.md §3.1, §3.5, §3.7.3",
            header: ["Softmax over attention scores: m = max (NaN never replaces it), e = exp32(s - m), z = orderedSum(e), p = e / z.",
                     "Library check (the attention op uses it)."],
            notes: [("Uniform", "Every score is equal."),
                    ("Underflow", "exp32 underflows to zero for some scores."),
                    ("OrderMatters", "z depends on the contract's reduction order.")])
        func test(_ comment: String, _ flags: [String], _ x: [Float]) {
            b.group("SoftmaxTest")
            b.test(comment, flags, [("x", J.f32(x))])
        }
        test("one score", [], [3.5])
        test("two equal scores", ["Uniform"], [1, 1])
        test("three equal scores: 1/3", ["Uniform"], [-2, -2, -2])
        test("a dominant score: the others underflow", ["Underflow"], [0, 200, -10, 150])
        test("-inf scores get probability 0", ["NonFinite"], [-.infinity, 1, -.infinity, 2])
        test("a NaN score makes every probability NaN (SPEC A, N3)", ["NonFinite"], [1, .nan, 2])
        test("a +inf score makes every probability NaN (SPEC A, N3)", ["NonFinite"], [1, .infinity, 2])
        test("all -inf: NaN (SPEC A, N3)", ["NonFinite"], [-.infinity, -.infinity])
        test("33 scores (a second lane round)", ["OrderMatters"], (0..<33).map { Float($0) * 0.25 - 4 })
        var r = SeededGenerator(seed: 0x534F_4654_4D41_5800)
        test("100 random scores", ["Random", "OrderMatters"], (0..<100).map { _ in r.uniform() * 8 })
        test("257 random scores with a wide range", ["Random", "OrderMatters", "Underflow"], (0..<257).map { _ in r.uniform() * 120 })
        return b.build()
    }

    // MARK: Conversion of binary32 blocks to Q8_0 (SPEC §2.4)

    static func q8Convert() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "q8_0-conversion", spec: "Papers/SPEC.md §2.4",
            header: ["Conversion of F32 (or decoded F16/BF16) weight blocks to Q8_0 at load: d = fp16(fl32(amax / 127)),",
                     "q = clamp(roundHalfEven(fl32(v / d)), -127, 127). Library check. Inputs are finite."],
            notes: [("ZeroScale", "d rounds to fp16 zero: every integer is 0."),
                    ("SubnormalScale", "d is an fp16 subnormal."),
                    ("Clamp", "A quotient exceeds 127 in magnitude and is clamped."),
                    ("ScaleOverflow", "amax / 127 overflows fp16: d = +inf, the integers are 0 (such a model fails to load)."),
                    ("MultiBlock", "Several blocks converted independently.")])
        func test(_ comment: String, _ flags: [String], _ x: [Float]) {
            b.group("Q8ConvertTest")
            b.test(comment, flags, [("x", J.f32(x))])
        }
        test("SPEC B.4", ["SpecExample"], padded([0.5, -1.25, 0.01, 2.0]))
        test("all zeros", ["ZeroScale", "SignedZero"], padded([-0.0]))
        test("amax 127: d = 1, halves tie to even", ["RoundingTie", "SignedZero"], padded([127, 2.5, 3.5, -0.5, -1.5, 0.5, 126.5, -126.5]))
        test("amax 1e-10: d rounds to zero", ["ZeroScale"], padded([1e-10, -5e-11]))
        test("amax 1e-5: d is the smallest fp16 subnormal and the quotient clamps", ["SubnormalScale", "Clamp"], padded([1e-5, -1e-5, 3e-6]))
        test("amax 3e-6: amax / 127 is below half the smallest fp16 subnormal, d = 0", ["ZeroScale"], padded([3e-6, 1e-6, -2e-6, 5e-7]))
        test("amax 3e-5: d = 4·2^-24, an fp16 subnormal", ["SubnormalScale"], padded([3e-5, 1e-5, -2e-5, 5e-6, 1.2e-7]))
        test("amax 1e7: the scale overflows fp16", ["ScaleOverflow"], padded([1e7, -3, 5e6]))
        test("the largest representable scale", [], padded([65504 * 127, 1, -1e6]))
        test("negative amax", [], padded([-4, 1, 2, 3]))
        var r = SeededGenerator(seed: 0x5138_434F_4E56_0001)
        test("eight random blocks", ["Random", "MultiBlock"], (0..<256).map { _ in r.uniform() * 0.2 })
        test("eight blocks, magnitudes spread within each block", ["Random", "MultiBlock", "SubnormalScale"],
             (0..<256).map { i in r.float(exponents: (-30 + (i / 32) * 2)...(-20 + (i / 32) * 2)) })
        return b.build()
    }

    // MARK: Elementary functions (SPEC §3.7)

    static func exp32() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "exp32", spec: "Papers/SPEC.md §3.7.1, §3.7.3",
            header: ["The contract's binary32 exponential (computed in binary64, rounded once). Library check."],
            notes: [("Cutoff", "At or near the cut-offs x > 89 → +inf and x < -104 → +0, or the binary32 overflow/underflow."),
                    ("ReductionBoundary", "x·log2e is near a half-integer: the reduction's k changes.")])
        b.group("Exp32Test")
        b.test("SPEC B.6 values", ["SpecExample"], [("x", J.f32([1, -1, -3.25, 88, -103]))])
        let ln2 = Float(0.6931472)
        b.test("zeros, NaN, infinities, subnormals", ["SignedZero", "NonFinite", "Subnormal"],
               [("x", J.f32([0, -0.0, .nan, .bits(0x7FC0_1234), .infinity, -.infinity, .bits(1), .bits(0x8000_0001), 1e-30]))])
        b.test("around the cut-offs", ["Cutoff"],
               [("x", J.f32([88.72, 88.7228, 88.7229, 89, Float(89).nextUp, 90, -87.3, -87.34, -103.2, -103.97, -103.98, -104, Float(-104).nextDown, -105]))])
        b.test("around k changes", ["ReductionBoundary"], [("x", J.f32([ln2 / 2, (ln2 / 2).nextUp, (ln2 / 2).nextDown, 1.5 * ln2, -1.5 * ln2, 0.35, -0.35]))])
        var r = SeededGenerator(seed: 0x4558_5033_3200_0001)
        b.test("512 random values in [-105, 90)", ["Random", "Subnormal"], [("x", J.f32((0..<512).map { _ in r.float(in: -105, 90) }))])
        b.test("256 random values in [-1, 1)", ["Random"], [("x", J.f32((0..<256).map { _ in r.uniform() }))])
        return b.build()
    }

    static func exp64() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "exp64", spec: "Papers/SPEC.md §3.7.1, §3.7.2",
            header: ["The contract's binary64 exponential. Library check."],
            notes: [("Cutoff", "At or near the cut-offs x > 709 → +inf and x < -708 → +0.")])
        b.group("Exp64Test")
        b.test("SPEC B.6 values", ["SpecExample"], [("x", J.f64([1, -1, 10, -700]))])
        b.test("zeros, NaN, infinities, subnormals", ["SignedZero", "NonFinite", "Subnormal"],
               [("x", J.f64([0, -0.0, .nan, .infinity, -.infinity, .bits(1), .bits(0x8000_0000_0000_0001), 1e-300]))])
        b.test("around the cut-offs", ["Cutoff"], [("x", J.f64([709, Double(709).nextUp, 708.9, -708, Double(-708).nextDown, -707.9, 710, -710]))])
        var r = SeededGenerator(seed: 0x4558_5036_3400_0001)
        b.test("512 random values in [-710, 710)", ["Random"], [("x", J.f64((0..<512).map { _ in -710 + 1420 * Double(r.next() >> 11) / 9007199254740992 }))])
        b.test("256 random values in [-1, 1)", ["Random"], [("x", J.f64((0..<256).map { _ in -1 + 2 * Double(r.next() >> 11) / 9007199254740992 }))])
        return b.build()
    }

    static func log64() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "log64", spec: "Papers/SPEC.md §3.7.4",
            header: ["The contract's binary64 natural logarithm; NaN for x ≤ 0, ±inf and NaN. Library check."],
            notes: [("Sqrt2Boundary", "The significand is at or next to sqrt2, where the reduction halves it."),
                    ("InvalidInput", "x ≤ 0, infinite or NaN: the result is NaN.")])
        b.group("Log64Test")
        b.test("SPEC B.6 values", ["SpecExample"], [("x", J.f64([2, 10, 100000]))])
        b.test("exact and simple values", [], [("x", J.f64([1, 0.5, 4, 0.1, 3, 1e300, .greatestFiniteMagnitude]))])
        let s2 = Double.bits(0x3FF6_A09E_667F_3BCD)
        b.test("around sqrt2", ["Sqrt2Boundary"], [("x", J.f64([s2, s2.nextUp, s2.nextDown, 2 * s2, (2 * s2).nextUp, s2 / 2]))])
        b.test("subnormals", ["Subnormal"], [("x", J.f64([.bits(1), .bits(0x000F_FFFF_FFFF_FFFF), .bits(0x0008_0000_0000_0000), .leastNormalMagnitude]))])
        b.test("invalid inputs give NaN", ["InvalidInput", "NonFinite", "SignedZero"], [("x", J.f64([0, -0.0, -1, .infinity, -.infinity, .nan]))])
        var r = SeededGenerator(seed: 0x4C4F_4736_3400_0001)
        b.test("256 random values over the exponent range", ["Random"], [("x", J.f64((0..<256).map { _ in r.double(exponents: -1022...1023).magnitude }))])
        b.test("256 random values in [0.5, 2)", ["Random", "Sqrt2Boundary"], [("x", J.f64((0..<256).map { _ in r.double(exponents: -1...0).magnitude }))])
        return b.build()
    }

    static func sinCos64() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "sincos64", spec: "Papers/SPEC.md §3.7.5",
            header: ["The contract's binary64 sine and cosine for |θ| ≤ 2^20 (outside that domain an implementation must refuse;",
                     "no vector covers it). Library check."],
            notes: [("Quadrant", "Angles near multiples of π/2: every value of k mod 4, including negative k."),
                    ("DomainEdge", "|θ| at or near 2^20.")])
        b.group("SinCos64Test")
        b.test("zeros, tiny and subnormal angles", ["SignedZero", "Subnormal"], [("x", J.f64([0, -0.0, 1e-300, .bits(1), -1e-10, 1e-5]))])
        let halfPi = Double.bits(0x3FF9_21FB_5444_2D18)
        b.test("multiples of π/2 from -5 to 5", ["Quadrant"], [("x", J.f64((-5...5).map { Double($0) * halfPi }))])
        b.test("around π/4", ["Quadrant"], [("x", J.f64([halfPi / 2, (halfPi / 2).nextUp, (halfPi / 2).nextDown, 3 * halfPi / 2, -halfPi / 2]))])
        b.test("the domain edges", ["DomainEdge"], [("x", J.f64([1_048_576, -1_048_576, 1_048_575.9, 1_048_575 * 0.5, 1_048_575 * 1e-5]))])
        var r = SeededGenerator(seed: 0x5349_4E43_4F53_0001)
        b.test("256 random angles in [-4, 4)", ["Random"], [("x", J.f64((0..<256).map { _ in -4 + 8 * Double(r.next() >> 11) / 9007199254740992 }))])
        b.test("256 random angles in [-2^20, 2^20)", ["Random", "Quadrant"], [("x", J.f64((0..<256).map { _ in (-1 + 2 * Double(r.next() >> 11) / 9007199254740992) * 1_048_576 }))])
        b.test("RoPE-like angles pos·θ with θ ≤ 1", ["Random"], [("x", J.f64((0..<256).map { _ in Double(r.int(0...1_048_575)) * Double(r.next() >> 11) / 9007199254740992 }))])
        return b.build()
    }
}
