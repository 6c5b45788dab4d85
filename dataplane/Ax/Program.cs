using Istio.AppSwitch.Ax;

return AxCommandLine.RunOnConsole(args);
