import LockstepCore
import LockstepModel

/// The sampler's vectors (SPEC §4) and the list of every op file.
extension OpVectors {
    static func sampler() -> VectorFile {
        var b = OpFileBuilder(
            algorithm: "sampler", spec: "Papers/SPEC.md §4.1, §4.2, §4.3, §3.7.3",
            header: ["RandomTest: the counter-based generator random(seed, counter).",
                     "GreedyTest: argmax with ties to the lowest id, NaN never chosen (id 0 when all are NaN).",
                     "StochasticTest: integer-weight sampling at temperature T with random(seed, counter); 'u' is the generator output",
                     "(a diagnostic). Library checks."],
            notes: [("Tie", "Several logits share the maximum: the lowest id wins (greedy)."),
                    ("Wraparound", "Seed or counter arithmetic wraps modulo 2^64."),
                    ("GreedyFallback", "The maximum is not finite: stochastic sampling falls back to argmax."),
                    ("ExtremeTemperature", "A temperature so small or so large that the weights saturate."),
                    ("AllNaN", "Every logit is NaN.")])
        b.group("RandomTest")
        b.test("seed 0, counters 0 to 7", [], [("seed", J.u64(0)), ("counters", J.u64(Array(0...7)))])
        b.test("seed 42", [], [("seed", J.u64(42)), ("counters", J.u64([0, 1, 2, 100, 1 << 32, 1 << 63]))])
        b.test("seed 2^64 - 1 and counter 2^64 - 1 (counter + 1 wraps to 0)", ["Wraparound"],
               [("seed", J.u64(.max)), ("counters", J.u64([0, 1, .max, .max - 1]))])
        b.test("seed 0x9E3779B97F4A7C15", ["Wraparound"], [("seed", J.u64(0x9E37_79B9_7F4A_7C15)), ("counters", J.u64([0, 1, 2, 3]))])

        func greedy(_ comment: String, _ flags: [String], _ logits: [Float]) {
            b.group("GreedyTest")
            b.test(comment, flags, [("logits", J.f32(logits))])
        }
        greedy("ties go to the lowest id", ["Tie"], [1, 3, 3, 2])
        greedy("NaN is never chosen", ["NonFinite"], [.nan, 1, .nan, 0.5])
        greedy("every logit NaN: id 0", ["AllNaN", "NonFinite"], [.nan, .nan, .nan])
        greedy("-inf can win when the rest are -inf or NaN", ["NonFinite"], [.nan, -.infinity, .nan, -.infinity])
        greedy("+inf twice: the first", ["NonFinite", "Tie"], [0, .infinity, 5, .infinity])
        greedy("-0 and +0 are equal: the first", ["SignedZero", "Tie"], [-0.0, 0, -1])
        greedy("a single logit", [], [-7])
        var r = SeededGenerator(seed: 0x5341_4D50_4C45_5200)
        greedy("1000 random logits", ["Random"], (0..<1000).map { _ in r.uniform() * 10 })

        func stochastic(_ comment: String, _ flags: [String], _ logits: [Float], t: Float, seed: UInt64, counter: UInt64) {
            b.group("StochasticTest")
            b.test(comment, flags, [("logits", J.f32(logits)), ("temperature", J.f32(t)), ("seed", J.u64(seed)), ("counter", J.u64(counter))])
        }
        for (seed, counter) in [(UInt64(1), UInt64(0)), (1, 1), (1, 2), (7, 0), (123_456_789, 5), (.max, 9)] {
            stochastic("four equal logits, seed \(seed), counter \(counter)", ["Tie"], [2, 2, 2, 2], t: 1, seed: seed, counter: counter)
        }
        stochastic("temperature 0 is greedy", [], [1, 4, 2], t: 0, seed: 3, counter: 0)
        stochastic("a +inf logit: greedy fallback", ["GreedyFallback", "NonFinite"], [1, .infinity, 2, .infinity], t: 1, seed: 3, counter: 0)
        stochastic("every logit NaN: greedy fallback, id 0", ["GreedyFallback", "AllNaN", "NonFinite"], [.nan, .nan], t: 1, seed: 3, counter: 0)
        stochastic("every logit -inf or NaN: greedy fallback", ["GreedyFallback", "NonFinite"], [.nan, -.infinity, -.infinity], t: 0.5, seed: 3, counter: 0)
        stochastic("NaN and -inf logits get weight 0", ["NonFinite"], [.nan, 0, -.infinity, 0, .nan], t: 1, seed: 11, counter: 4)
        stochastic("temperature 1e-30: only the maximum has weight", ["ExtremeTemperature"], [1, 1.5, 1.4999999], t: 1e-30, seed: 5, counter: 1)
        stochastic("temperature 1e30: every weight is about 2^32", ["ExtremeTemperature"], [-50, 0, 50, 1e30], t: 1e30, seed: 5, counter: 2)
        stochastic("a subnormal temperature", ["ExtremeTemperature", "Subnormal"], [0, -.bits(0x0001_16C2), 1], t: .bits(1), seed: 5, counter: 3)
        for i in 0..<12 {
            let t: Float = [0.5, 0.8, 1.0, 1.5][i % 4]
            let logits = (0..<300).map { _ in r.uniform() * 6 }
            stochastic("300 random logits at temperature \(t)", ["Random"], logits, t: t, seed: r.next(), counter: UInt64(r.int(0...1000)))
        }
        return b.build()
    }

    /// Every op vector file, by path under the vectors directory.
    static func all() -> [(path: String, file: VectorFile)] {
        [("ops/quantize.json", quantize()),
         ("ops/matmul_q8_0.json", matmul(.q8_0)),
         ("ops/matmul_q4_0.json", matmul(.q4_0)),
         ("ops/matmul_q4_1.json", matmul(.q4_1)),
         ("ops/exact_accumulator.json", accumulator()),
         ("ops/attention.json", attention()),
         ("ops/ordered_sum.json", orderedSum()),
         ("ops/rms_norm.json", rmsNorm()),
         ("ops/rope.json", rope()),
         ("ops/silu_mul.json", siluMul()),
         ("ops/add.json", add()),
         ("ops/softmax.json", softmax()),
         ("ops/q8_0_conversion.json", q8Convert()),
         ("ops/exp32.json", exp32()),
         ("ops/exp64.json", exp64()),
         ("ops/log64.json", log64()),
         ("ops/sincos64.json", sinCos64()),
         ("ops/sampler.json", sampler())]
    }
}

/// The op vector generators (one static function per file).
enum OpVectors {}
