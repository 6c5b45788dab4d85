using Istio.AppSwitch.Ax;

return AxCommandLine.Create(Console.Out, Console.Error).Parse(args).Invoke();
