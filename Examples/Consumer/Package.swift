// swift-tools-version: 6.0
// A separate package that depends on the SDK by path, as a user's package would: if a product
// declaration breaks, this stops building.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(name: "Sensorium", path: "../..")],
    targets: [
        .executableTarget(name: "ConsumerCheck", dependencies: [
            .product(name: "SensoriumTensor", package: "Sensorium"),
            .product(name: "SensoriumLayers", package: "Sensorium"),
            .product(name: "SensoriumReadouts", package: "Sensorium"),
            .product(name: "SensoriumData", package: "Sensorium"),
            .product(name: "SensoriumMetrics", package: "Sensorium"),
            .product(name: "Sensorium", package: "Sensorium"),
        ]),
    ]
)
