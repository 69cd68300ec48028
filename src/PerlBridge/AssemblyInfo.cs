// Every P/Invoke here is blittable: no marshalling IL stubs to generate at start-up.
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
