import LockstepCore
import LockstepTokenizer

/// Sampler settings; part of every request and of its commitment.
public struct SamplerSettings: Sendable, Equatable, Codable {
    /// Softmax temperature; 0 means greedy (argmax, ties to the lowest token id).
    public var temperature: Float
    /// Seed of the counter-based generator (ignored when greedy).
    public var seed: UInt64

    public init(temperature: Float = 0, seed: UInt64 = 0) {
        precondition(temperature >= 0 && temperature.isFinite, "temperature must be a finite number ≥ 0")
        self.temperature = temperature
        self.seed = seed
    }

    /// Greedy decoding.
    public static let greedy = SamplerSettings()
}

/// The contract's sampler (SPEC §4): greedy argmax, or integer-weight sampling driven by a
/// counter-based generator, so that every implementation picks the same token.
public enum Sampler {
    /// The counter-based generator: SplitMix64's finaliser applied to
    /// `seed + (counter + 1) · 0x9E3779B97F4A7C15` (wrapping arithmetic).
    public static func random(seed: UInt64, counter: UInt64) -> UInt64 {
        var z = seed &+ (counter &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The index of the largest logit; ties go to the lowest index; NaNs are never chosen
    /// (index 0 if every value is NaN). Equal values compare as IEEE 754 does (−0 = +0).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        // Two passes over 16 lanes at a time: the largest value (a NaN never compares greater,
        // so no lane ever holds one), then the first index holding a value equal to it.
        guard let base = logits.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base), n = logits.count, whole = n - n % 16
        var lanes = SIMD16<Float>(repeating: -.infinity)
        for i in stride(from: 0, to: whole, by: 16) {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
        }
        var best = lanes.max()
        for i in whole ..< n where logits[i] > best { best = logits[i] }
        // Nothing above −∞: the first value that is not NaN.
        guard best > -.infinity else { return logits.firstIndex { !$0.isNaN } ?? 0 }
        let target = SIMD16<Float>(repeating: best)
        for i in stride(from: 0, to: whole, by: 16) {
            let hits = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) .== target
            if any(hits) { return i + (0 ..< 16).first { hits[$0] }! }
        }
        return (whole ..< n).first { logits[$0] == best }!
    }

    /// Chooses the next token from `logits` (one row, vocabulary-sized).
    ///
    /// Greedy (`argmax`) when the temperature is 0 or the largest logit is not finite.
    /// Stochastic rule: `m = max` (NaN ignored); for each id `z = (l − m) / T` and
    /// `p = exp(z)` in binary32 (contract `exp`; NaN logits get weight 0); integer weight
    /// `w = floor(p · 2^32)`; `W = Σ w`; `u = random(seed, counter: index)`;
    /// `r = floor(u · W / 2^64)`; the token is the first id whose running sum of weights
    /// exceeds `r`.
    /// - Parameters: `index`: the number of tokens generated before this one (0 for the first).
    public static func sample(_ logits: UnsafeBufferPointer<Float>, settings: SamplerSettings, index: Int) -> TokenID {
        let best = argmax(logits)
        let m = logits[best]
        // Greedy; or a non-finite maximum (+∞, or every logit NaN/−∞), where weights are undefined.
        if settings.temperature == 0 || !m.isFinite { return TokenID(best) }
        var weights = [UInt64](repeating: 0, count: logits.count)
        var total: UInt64 = 0
        for (i, l) in logits.enumerated() where !l.isNaN {
            let p = ContractMath.exp((l - m) / settings.temperature)   // in [0, 1]; NaN only for NaN input
            guard p >= 0 && p <= 1 else { continue }
            let w = UInt64(Double(p) * 4294967296.0)
            weights[i] = w
            total += w
        }
        let u = random(seed: settings.seed, counter: UInt64(index))
        let r = u.multipliedFullWidth(by: total).high
        var running: UInt64 = 0
        for (i, w) in weights.enumerated() {
            running += w
            if running > r { return TokenID(i) }
        }
        return TokenID(weights.count - 1)
    }
}

/// The greedy choice (`Sampler.argmax`) of one logits row that arrives a slice at a time, in
/// order (`LlamaModel.logitSlices`): the same index as `argmax` of the whole row.
public struct RunningArgmax: Sendable {
    /// The largest value so far (−∞ while none is above −∞).
    private var best: Float = -.infinity
    /// Where `best` first occurs; while no value is above −∞, the first value that is not NaN.
    private var index: Int?

    public init() {}

    /// Adds entries `offset ..< offset + slice.count` of the row (`offset` = the entries added
    /// before).
    public mutating func add(_ slice: UnsafeBufferPointer<Float>, offset: Int) {
        guard !slice.isEmpty else { return }
        let i = Sampler.argmax(slice), v = slice[i]
        // A later slice wins only with a strictly larger value: ties go to the lowest index.
        if v > best || (index == nil && !v.isNaN) { best = v; index = offset + i }
    }

    /// The chosen token: `argmax` of the entries added (0 when every one is NaN).
    public var token: TokenID { TokenID(index ?? 0) }
}
