import XCTest
final class LockstepTokenizerTestsPlaceholder: XCTestCase { func testNothing() {} }
