// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Sensorium",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SensoriumTensor", targets: ["SensoriumTensor"]),
        .library(name: "SensoriumLayers", targets: ["SensoriumLayers"]),
        .library(name: "SensoriumReadouts", targets: ["SensoriumReadouts"]),
        .library(name: "SensoriumData", targets: ["SensoriumData"]),
        .library(name: "SensoriumMetrics", targets: ["SensoriumMetrics"]),
        .library(name: "SensoriumTraining", targets: ["SensoriumTraining"]),
        .library(name: "Sensorium", targets: ["Sensorium"]),
        .library(name: "SensoriumCommandLine", targets: ["SensoriumCommandLine"]),
        .executable(name: "sensorium", targets: ["SensoriumCLI"]),
        .executable(name: "sensorium-bench", targets: ["SensoriumBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries (internal to the SDK; imported with `internal import`).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS",
                       pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE",
                       pkgConfig: "lapacke", providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5",
                       pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBrotli", path: "Sources/CBrotli",
                       pkgConfig: "libbrotlienc", providers: [.apt(["libbrotli-dev"])]),

        // Libraries. Dependency graph: Tensor <- Layers <- Readouts; Tensor <- Data; Tensor <- Metrics;
        // Layers, Data, Metrics <- Training (generic over a trainable model); all <- Sensorium.
        .target(name: "SensoriumTensor", dependencies: ["COpenBLAS", "CLAPACKE"]),
        .target(name: "SensoriumLayers", dependencies: ["SensoriumTensor"]),
        .target(name: "SensoriumReadouts", dependencies: ["SensoriumTensor", "SensoriumLayers"]),
        .target(name: "SensoriumData", dependencies: ["SensoriumTensor", "CHDF5", "CBrotli"]),
        .target(name: "SensoriumMetrics", dependencies: ["SensoriumTensor"]),
        .target(name: "SensoriumTraining", dependencies: [
            "SensoriumTensor", "SensoriumLayers", "SensoriumData", "SensoriumMetrics",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Sensorium", dependencies: [
            "SensoriumTensor", "SensoriumLayers", "SensoriumReadouts", "SensoriumData", "SensoriumMetrics", "SensoriumTraining",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The commands of the `sensorium` tool, as a library a user's executable can run.
        .target(name: "SensoriumCommandLine", dependencies: [
            "Sensorium", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Executables.
        .executableTarget(name: "SensoriumCLI", dependencies: ["SensoriumCommandLine"]),
        .executableTarget(name: "SensoriumBench", dependencies: ["Sensorium"]),
        .executableTarget(name: "TrainFactorizedBaseline", dependencies: ["Sensorium"],
                          path: "Examples/TrainFactorizedBaseline"),
        .executableTarget(name: "CustomReadout", dependencies: ["Sensorium"], path: "Examples/CustomReadout"),
        .executableTarget(name: "EvaluateCheckpoint", dependencies: ["Sensorium"], path: "Examples/EvaluateCheckpoint"),
        .executableTarget(name: "CustomCore", dependencies: ["Sensorium", "SensoriumCommandLine"], path: "Examples/CustomCore"),

        // Tests, one target per library, plus shared fixture helpers.
        .target(name: "SensoriumTestSupport", dependencies: ["SensoriumTensor", "SensoriumData"], path: "Tests/Support"),
        .testTarget(name: "SensoriumTensorTests", dependencies: ["SensoriumTensor", "SensoriumTestSupport"]),
        .testTarget(name: "SensoriumLayersTests", dependencies: ["SensoriumLayers", "SensoriumTestSupport"]),
        .testTarget(name: "SensoriumReadoutsTests", dependencies: ["SensoriumReadouts", "SensoriumLayers", "SensoriumTestSupport"]),
        .testTarget(name: "SensoriumDataTests", dependencies: ["SensoriumData", "SensoriumTestSupport"]),
        .testTarget(name: "SensoriumMetricsTests", dependencies: ["SensoriumMetrics", "SensoriumTestSupport"]),
        .testTarget(name: "SensoriumTests", dependencies: ["Sensorium", "SensoriumTraining", "SensoriumCommandLine", "SensoriumTestSupport"]),
    ]
)
