import XCTest
final class ConformancePlaceholder: XCTestCase { func testNothing() {} }
