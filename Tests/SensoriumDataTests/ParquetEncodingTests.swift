import Testing
@testable import SensoriumData

/// The Parquet writer's encoders against bytes computed by hand from the Thrift compact protocol
/// and Parquet format specifications.
@Suite("Parquet encoding")
struct ParquetEncodingTests {
    @Test func varints() {
        func bytes(_ v: UInt64) -> [UInt8] { var w = ThriftCompactWriter(); w.varint(v); return w.bytes }
        #expect(bytes(0) == [0x00])
        #expect(bytes(1) == [0x01])
        #expect(bytes(127) == [0x7F])
        #expect(bytes(128) == [0x80, 0x01])
        #expect(bytes(300) == [0xAC, 0x02])
        #expect(bytes(UInt64.max) == [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func zigzag() {
        #expect(ThriftCompactWriter.zigzag(0) == 0)
        #expect(ThriftCompactWriter.zigzag(-1) == 1)
        #expect(ThriftCompactWriter.zigzag(1) == 2)
        #expect(ThriftCompactWriter.zigzag(-2) == 3)
        #expect(ThriftCompactWriter.zigzag(2_147_483_647) == 4_294_967_294)
        #expect(ThriftCompactWriter.zigzag(-2_147_483_648) == 4_294_967_295)
        #expect(ThriftCompactWriter.zigzag(Int64.min) == UInt64.max)
        var w = ThriftCompactWriter()
        w.zigzagVarint(-65)   // zigzag 129 = 0x81 → 0x81 0x01
        #expect(w.bytes == [0x81, 0x01])
    }

    @Test func fieldDeltasAndLongForm() {
        var w = ThriftCompactWriter()
        w.fieldI32(1, 2)          // delta 1, i32: 0x15, zigzag(2) = 4
        w.fieldI32(3, -1)         // delta 2: 0x25, zigzag(-1) = 1
        w.fieldI64(20, 1)         // delta 17 > 15: type byte 0x06, then zigzag(20) = 40 = 0x28, zigzag(1) = 2
        w.fieldI32(19, 0)         // backwards: 0x05, zigzag(19) = 38 = 0x26, value 0
        w.structEnd()
        #expect(w.bytes == [0x15, 0x04, 0x25, 0x01, 0x06, 0x28, 0x02, 0x05, 0x26, 0x00, 0x00])
    }

    @Test func nestedStructsRestoreFieldIDs() {
        var w = ThriftCompactWriter()
        w.fieldI32(3, 0)                          // 0x35 0x00
        w.fieldStruct(5) { w in w.fieldI32(1, 7) } // 0x2C, inner 0x15 0x0E, stop
        w.fieldString(6, "ab")                    // delta 1 from 5: 0x18, length 2, "ab"
        w.fieldBool(7, true)                      // 0x11
        w.fieldBool(8, false)                     // 0x12
        w.fieldByte(9, -1)                        // 0x13 0xFF
        w.structEnd()
        #expect(w.bytes == [0x35, 0x00, 0x2C, 0x15, 0x0E, 0x00, 0x18, 0x02, 0x61, 0x62, 0x11, 0x12, 0x13, 0xFF, 0x00])
    }

    @Test func listHeaders() {
        var w = ThriftCompactWriter()
        w.fieldI32List(1, [1, -1, 0])             // 0x19, (3 << 4) | 5 = 0x35, 0x02 0x01 0x00
        #expect(w.bytes == [0x19, 0x35, 0x02, 0x01, 0x00])
        var long = ThriftCompactWriter()
        long.listHeader(count: 15, elementType: .binary)
        long.listHeader(count: 200, elementType: .structure)
        #expect(long.bytes == [0xF8, 0x0F, 0xFC, 0xC8, 0x01])
    }

    @Test func dataPageHeader() {
        let bytes = ParquetThriftStructures.dataPageHeader(valueCount: 3, uncompressedSize: 10, compressedSize: 12)
        #expect(bytes == [0x15, 0x00, 0x15, 0x14, 0x15, 0x18, 0x2C,
                          0x15, 0x06, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00])
    }

    @Test func levelBitWidths() {
        #expect([0, 1, 2, 3, 4, 5, 7, 8].map { RLEHybridEncoder.bitWidth(maxLevel: $0) } == [0, 1, 2, 2, 3, 3, 3, 4])
    }

    @Test func rleRuns() {
        #expect(RLEHybridEncoder.encode([Int](repeating: 0, count: 10), bitWidth: 1) == [0x14, 0x00])
        #expect(RLEHybridEncoder.encode([Int](repeating: 5, count: 9), bitWidth: 3) == [0x12, 0x05])
        // 300 ones of width 9 (two value bytes): header varint(600) = 0xD8 0x04.
        #expect(RLEHybridEncoder.encode([Int](repeating: 1, count: 300), bitWidth: 9) == [0xD8, 0x04, 0x01, 0x00])
    }

    @Test func bitPackedRuns() {
        // The Parquet specification's example: 0…7 at width 3.
        #expect(RLEHybridEncoder.encode(Array(0..<8), bitWidth: 3) == [0x03, 0x88, 0xC6, 0xFA])
        // A short tail is padded to a group of eight with zeros.
        #expect(RLEHybridEncoder.encode([1, 0, 1], bitWidth: 1) == [0x03, 0x05])
        // A literal group, then an RLE run of eight.
        #expect(RLEHybridEncoder.encode([1, 2, 1, 2, 1, 2, 1, 2] + [Int](repeating: 3, count: 8), bitWidth: 2)
                == [0x03, 0x99, 0x99, 0x10, 0x03])
        // Two literal groups in one run: header (2 << 1) | 1.
        #expect(RLEHybridEncoder.encode([1, 0, 1, 0, 1, 0, 1, 0, 0, 1], bitWidth: 1) == [0x05, 0x55, 0x02])
    }

    @Test func levelsBlockHasLengthPrefix() {
        #expect(RLEHybridEncoder.levelsBlock([Int](repeating: 0, count: 10), maxLevel: 1) == [0x02, 0x00, 0x00, 0x00, 0x14, 0x00])
    }

    @Test func plainValues() {
        var out: [UInt8] = []
        PlainEncoder.int32([-2], into: &out)
        PlainEncoder.int64([1], into: &out)
        PlainEncoder.double([1.0], into: &out)
        PlainEncoder.byteArrays([Array("ab".utf8)], into: &out)
        #expect(out == [0xFE, 0xFF, 0xFF, 0xFF,
                        0x01, 0, 0, 0, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0xF0, 0x3F,
                        0x02, 0, 0, 0, 0x61, 0x62])
    }

    @Test func shreddedLevels() {
        let nested = ParquetLevels.nestedList(lengths: [[2, 0, 1], [], [1]])
        #expect(nested.repetition == [0, 2, 1, 1, 0, 0])
        #expect(nested.definition == [5, 5, 3, 5, 1, 5])
        let list = ParquetLevels.list(lengths: [3, 0, 1])
        #expect(list.repetition == [0, 1, 1, 0, 0])
        #expect(list.definition == [3, 3, 3, 1, 3])
        #expect(ParquetLevels.flat(rowCount: 2) == ParquetLevels(repetition: [0, 0], definition: [1, 1]))
    }

    @Test func submissionSchemaColumns() {
        let columns = SubmissionParquet.schema.columns
        #expect(columns.map { $0.path.joined(separator: ".") }
                == ["mouse", "trial_indices", "prediction.list.element.list.element", "neuron_ids.list.element"])
        #expect(columns.map(\.maxDefinitionLevel) == [1, 1, 5, 3])
        #expect(columns.map(\.maxRepetitionLevel) == [0, 0, 2, 1])
        #expect(columns.map(\.physicalType) == [.byteArray, .int64, .double, .int32])
        #expect(ParquetSchema.LogicalType.integer(bitWidth: 32, signed: false).convertedType == 13)
        #expect(ParquetSchema.LogicalType.integer(bitWidth: 64, signed: true).convertedType == 18)
    }
}
