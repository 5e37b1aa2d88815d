/// A fixed-size, zero-initialised binary32 buffer that owns its memory (freed in deinit):
/// the scratch tensors of a forward pass.
public final class FloatBuffer: @unchecked Sendable {
    /// The storage, valid for the buffer's lifetime.
    public let mutable: UnsafeMutableBufferPointer<Float>

    /// Allocates `count` zeros, 64-byte aligned.
    public init(count: Int) {
        precondition(count >= 0)
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        mutable = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self).baseAddress, count: count)
        mutable.initialize(repeating: 0)
    }

    /// Copies `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        _ = mutable.initialize(from: values)
    }

    deinit { UnsafeMutableRawPointer(mutable.baseAddress!).deallocate() }

    /// Number of elements.
    public var count: Int { mutable.count }
    /// Read-only view.
    public var readOnly: UnsafeBufferPointer<Float> { UnsafeBufferPointer(mutable) }
    /// Read-only view of elements `range`.
    public func readOnly(_ range: Range<Int>) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: mutable[range]) }
    /// Copies the contents into an array.
    public var array: [Float] { Array(mutable) }
}
