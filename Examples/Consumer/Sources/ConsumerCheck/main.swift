import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData
import SensoriumMetrics
import Sensorium

// A few tensor operations through the public API, with a gradient.
let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], requiresGrad: true)
let w = Tensor([0.5, -1, 2], shape: [3])
let loss = (x * w).sum()
loss.backward()
let expected: [Float] = [0.5, -1, 2, 0.5, -1, 2]
guard loss.item == 13.5, x.grad?.scalars == expected else {
    print("ConsumerCheck: FAILED (loss \(loss.item), grad \(String(describing: x.grad?.scalars)))")
    exit(1)
}
print("ConsumerCheck: ok (loss \(loss.item))")

#if canImport(Glibc)
import Glibc
#endif
